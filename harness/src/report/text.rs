//! Text hygiene for reports: every byte that came from a scenario or a
//! container passes through here before it reaches HTML, XML or Markdown.
//!
//! Owns making control characters visible (NUL never passes), and the
//! Markdown escaping of one-line text. HTML escaping itself is the template
//! engine's job (minijinja auto-escape); this module does not format reports.

use std::borrow::Cow;

/// `s` with control characters made visible: C0 controls (except newline
/// and tab), ESC and DEL become their Unicode control pictures (`␀`, `␛`,
/// `␡`), C1 controls and bidirectional overrides become `\u{..}` text.
/// The result holds no NUL and nothing a terminal or browser would act on.
pub fn visible(s: &str) -> Cow<'_, str> {
    if !s.chars().any(needs_replacing) {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        if !needs_replacing(c) {
            out.push(c);
        } else if (c as u32) < 0x20 {
            out.push(char::from_u32(0x2400 + c as u32).unwrap_or('\u{fffd}'));
        } else if c == '\u{7f}' {
            out.push('\u{2421}');
        } else {
            out.push_str(&format!("\\u{{{:x}}}", c as u32));
        }
    }
    Cow::Owned(out)
}

fn needs_replacing(c: char) -> bool {
    match c {
        '\n' | '\t' => false,
        '\u{0}'..='\u{1f}' | '\u{7f}'..='\u{9f}' => true,
        // Bidirectional embeddings, overrides and isolates.
        '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}' => true,
        _ => false,
    }
}

/// At most `max` characters of `s`, with an ellipsis when cut.
pub fn clip(s: &str, max: usize) -> Cow<'_, str> {
    match s.char_indices().nth(max) {
        None => Cow::Borrowed(s),
        Some((i, _)) => Cow::Owned(format!("{}…", &s[..i])),
    }
}

/// One line of inline Markdown that renders as the literal text: controls
/// visible, newlines folded, Markdown and HTML punctuation escaped.
pub fn markdown_inline(s: &str) -> String {
    let s = visible(s);
    let mut out = String::with_capacity(s.len() + 8);
    for word in s.split_whitespace() {
        if !out.is_empty() {
            out.push(' ');
        }
        for c in word.chars() {
            match c {
                '<' => out.push_str("&lt;"),
                '>' => out.push_str("&gt;"),
                '&' => out.push_str("&amp;"),
                '\\' | '`' | '*' | '_' | '{' | '}' | '[' | ']' | '(' | ')' | '#' | '!' | '|'
                | '~' => {
                    out.push('\\');
                    out.push(c);
                }
                c => out.push(c),
            }
        }
    }
    // A leading list, heading or quote marker would start a block.
    if out.starts_with(['-', '+', '='])
        || out
            .split_once(". ")
            .is_some_and(|(n, _)| n.chars().all(|c| c.is_ascii_digit()))
    {
        out.insert(0, '\\');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    #[rstest]
    #[case::plain("a\tb\nc", "a\tb\nc")]
    #[case::nul("a\0b", "a\u{2400}b")]
    #[case::ansi("\x1b[31mred\x1b[0m", "\u{241b}[31mred\u{241b}[0m")]
    #[case::cr_bell("x\r\x07", "x\u{240d}\u{2407}")]
    #[case::del_c1("\u{7f}\u{85}", "\u{2421}\\u{85}")]
    #[case::bidi("a\u{202e}b", "a\\u{202e}b")]
    #[case::replacement("\u{fffd}", "\u{fffd}")]
    fn controls_become_visible(#[case] input: &str, #[case] want: &str) {
        assert_eq!(visible(input), want);
        assert!(!visible(input).contains('\0'));
    }

    #[test]
    fn clip_counts_characters() {
        assert_eq!(clip("äbc", 2), "äb…");
        assert_eq!(clip("abc", 3), "abc");
    }

    #[rstest]
    #[case::html(
        "<script>alert(1)</script>",
        "&lt;script&gt;alert\\(1\\)&lt;/script&gt;"
    )]
    #[case::table_pipe("a | b", "a \\| b")]
    #[case::link("[x](http://e)", "\\[x\\]\\(http://e\\)")]
    #[case::list_marker("- item", "\\- item")]
    #[case::ordered("1. item", "\\1. item")]
    #[case::newlines("one  \n\n  two", "one two")]
    #[case::emphasis("*_`", "\\*\\_\\`")]
    #[case::nul("a\0b", "a\u{2400}b")]
    fn markdown_inline_is_literal(#[case] input: &str, #[case] want: &str) {
        assert_eq!(markdown_inline(input), want);
    }
}
