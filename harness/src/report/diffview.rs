//! Word-level diffs for people: a field's two texts as side-by-side rows
//! and as unified lines, each line split into segments with the changed
//! words emphasized (`similar`'s inline diff).
//!
//! Owns only the shape of a rendered diff (for the HTML templates); the
//! comparison itself and the verdict belong to `compare`.

use std::time::{Duration, Instant};

use serde::Serialize;
use similar::{ChangeTag, TextDiff};

/// Rows beyond this are cut, and the cut is said.
pub const MAX_DIFF_ROWS: usize = 400;
/// Text beyond this many bytes per side is not diffed word by word.
const MAX_DIFF_BYTES: usize = 256 * 1024;

/// A run of text, emphasized when it is what changed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Segment {
    pub text: String,
    pub em: bool,
}

/// One line of one side.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Line {
    /// Line number on its side, from 1.
    pub no: usize,
    /// `del`, `ins` or `eq`.
    pub kind: &'static str,
    pub segments: Vec<Segment>,
}

/// A side-by-side row: a baseline line and a candidate line, either may
/// be missing.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Row {
    pub left: Option<Line>,
    pub right: Option<Line>,
}

/// A unified line: `-`, `+` or ` ` with its line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct UnifiedLine {
    pub sign: &'static str,
    pub line: Line,
}

/// A rendered diff of two texts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DiffView {
    pub rows: Vec<Row>,
    pub unified: Vec<UnifiedLine>,
    /// Set when rows were cut: what was left out.
    pub cut: Option<String>,
}

/// Diffs `left` and `right` line by line with word-level emphasis, keeping
/// `context` unchanged lines around each change (separator rows between
/// hunks have both sides missing).
pub fn diff_view(left: &str, right: &str, context: usize) -> DiffView {
    let (left, right) = (cap(left), cap(right));
    let diff = TextDiff::configure()
        .timeout(Duration::from_secs(2))
        .diff_lines(left.as_str(), right.as_str());
    let mut rows = Vec::new();
    let mut unified = Vec::new();
    let deadline = Some(Instant::now() + Duration::from_secs(2));
    for (g, group) in diff.grouped_ops(context).iter().enumerate() {
        if g > 0 {
            rows.push(Row {
                left: None,
                right: None,
            });
        }
        for op in group {
            let (mut dels, mut inss) = (Vec::new(), Vec::new());
            for change in diff.iter_inline_changes_deadline(op, deadline) {
                let segments: Vec<Segment> = change
                    .iter_strings_lossy()
                    .map(|(em, s)| Segment {
                        text: s.trim_end_matches('\n').to_string(),
                        em,
                    })
                    .filter(|s| !s.text.is_empty())
                    .collect();
                match change.tag() {
                    ChangeTag::Equal => {
                        let l = Line {
                            no: change.old_index().map_or(0, |i| i + 1),
                            kind: "eq",
                            segments,
                        };
                        let r = Line {
                            no: change.new_index().map_or(0, |i| i + 1),
                            ..l.clone()
                        };
                        unified.push(UnifiedLine {
                            sign: " ",
                            line: l.clone(),
                        });
                        rows.push(Row {
                            left: Some(l),
                            right: Some(r),
                        });
                    }
                    ChangeTag::Delete => dels.push(Line {
                        no: change.old_index().map_or(0, |i| i + 1),
                        kind: "del",
                        segments,
                    }),
                    ChangeTag::Insert => inss.push(Line {
                        no: change.new_index().map_or(0, |i| i + 1),
                        kind: "ins",
                        segments,
                    }),
                }
            }
            unified.extend(
                dels.iter()
                    .cloned()
                    .map(|line| UnifiedLine { sign: "-", line }),
            );
            unified.extend(
                inss.iter()
                    .cloned()
                    .map(|line| UnifiedLine { sign: "+", line }),
            );
            let n = dels.len().max(inss.len());
            let (mut d, mut i) = (dels.into_iter(), inss.into_iter());
            for _ in 0..n {
                rows.push(Row {
                    left: d.next(),
                    right: i.next(),
                });
            }
        }
    }
    let total = rows.len().max(unified.len());
    let cut = (total > MAX_DIFF_ROWS).then(|| {
        rows.truncate(MAX_DIFF_ROWS);
        unified.truncate(MAX_DIFF_ROWS);
        format!("showing the first {MAX_DIFF_ROWS} of {total} diff lines; results.json has the full texts")
    });
    DiffView { rows, unified, cut }
}

fn cap(s: &str) -> String {
    if s.len() <= MAX_DIFF_BYTES {
        return s.to_string();
    }
    let mut end = MAX_DIFF_BYTES;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!(
        "{}\n[diff input cut at {end} of {} bytes]",
        &s[..end],
        s.len()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn emphasized(line: &Line) -> Vec<&str> {
        line.segments
            .iter()
            .filter(|s| s.em)
            .map(|s| s.text.as_str())
            .collect()
    }

    #[test]
    fn changed_words_are_emphasized_side_by_side() {
        let v = diff_view("same\nmount tmpfs ok\n", "same\nmount tmpfs EPERM\n", 3);
        assert_eq!(v.rows.len(), 2);
        let row = &v.rows[1];
        assert_eq!(emphasized(row.left.as_ref().unwrap()), ["ok"]);
        assert_eq!(emphasized(row.right.as_ref().unwrap()), ["EPERM"]);
        assert_eq!(row.left.as_ref().unwrap().no, 2);
        let signs: Vec<&str> = v.unified.iter().map(|u| u.sign).collect();
        assert_eq!(signs, [" ", "-", "+"]);
        assert!(v.cut.is_none());
    }

    #[test]
    fn one_sided_lines_leave_the_other_side_empty() {
        let v = diff_view("a\n", "a\nb\n", 3);
        assert!(v.rows[1].left.is_none());
        assert_eq!(v.rows[1].right.as_ref().unwrap().kind, "ins");
    }

    #[test]
    fn hunks_far_apart_are_separated_and_long_diffs_cut() {
        let a: String = (0..50).map(|i| format!("{i}\n")).collect();
        let b = a.replace("1\n", "x\n").replace("45\n", "y\n");
        let v = diff_view(&a, &b, 1);
        assert!(v.rows.iter().any(|r| r.left.is_none() && r.right.is_none()));
        let big: String = (0..2000).map(|i| format!("{i}\n")).collect();
        let v = diff_view(&big, "", 3);
        assert_eq!(v.rows.len(), MAX_DIFF_ROWS);
        assert!(v.cut.as_deref().unwrap().contains("of 2000"));
    }
}
