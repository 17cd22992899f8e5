//! Output streams compared as bytes, in full.
//!
//! Owns the comparable text of a captured stream: normalization rules run
//! on the bytes (never on a lossy decoding), over the whole stream (in
//! memory when it fits the kept head, else over its copy on disk, in
//! blocks of whole lines), and the text ends with the true length and SHA-256 of the
//! normalized stream whenever the shown text is not the whole stream as
//! valid UTF-8, so two different streams never compare equal. Also owns
//! finding the first differing byte of two streams and a window of context
//! around it on both sides, in bounded memory, for reports.

use std::io::Read;

use sha2::{Digest, Sha256};

use crate::load::scenario::Field;
use crate::run::capture::{display, escape, hex};
use crate::run::observe::{Captured, OUTPUT_CAP, stream_canonical};

/// Rules on a stream longer than the kept head run on blocks of whole
/// lines of at most this many bytes (a rule never matches across two
/// blocks; a line longer than this is cut).
pub const MAX_LINE: usize = 1024 * 1024;
/// Bytes of context shown on each side of a first difference.
pub const WINDOW: usize = 64;

/// Rewrites of a field's text and of a stream's bytes (the normalizer's
/// rules).
pub trait Rules {
    fn apply(&self, field: Field, text: &str) -> String;
    fn apply_bytes(&self, field: Field, bytes: &[u8]) -> Vec<u8>;
}

/// The comparable text of stream `field` of one run, normalized by `n`.
pub fn stream_text(n: &dyn Rules, field: Field, c: &Captured) -> String {
    if !c.raw.complete {
        // Read back from a results file: only the text is known.
        return n.apply(field, &c.canonical());
    }
    let mut head = Vec::new();
    let mut hasher = Sha256::new();
    let mut len = 0u64;
    let mut kept_all = true;
    for chunk in normalized(n, field, c) {
        len += chunk.len() as u64;
        hasher.update(&chunk);
        let room = OUTPUT_CAP.saturating_sub(head.len());
        if chunk.len() > room {
            kept_all = false;
        }
        head.extend_from_slice(&chunk[..chunk.len().min(room)]);
    }
    let (text, escaped) = display(&head, !kept_all);
    let digest = hex(&hasher.finalize());
    let mut out = stream_canonical(
        &text,
        escaped,
        (!kept_all).then_some(head.len() as u64),
        len,
        &digest,
    );
    if let Some(unkept) = unkept_tail(c) {
        out.push_str(&unkept);
    }
    out
}

/// When the stream was longer than what was kept on disk, what is known
/// of the rest: compared through the digest of the raw stream.
fn unkept_tail(c: &Captured) -> Option<String> {
    let kept = match &c.raw.spill {
        Some(s) => s.len,
        None => c.raw.head.len() as u64,
    };
    (kept < c.bytes).then(|| {
        format!(
            "\n[bytes past the first {kept} were not kept: normalization did not see them; sha256 of all {} raw bytes: {}]",
            c.bytes, c.sha256
        )
    })
}

/// The normalized stream as a sequence of chunks: the whole head at once
/// when it is the whole stream, else the kept copy on disk in blocks of
/// whole lines.
fn normalized<'a>(
    n: &'a dyn Rules,
    field: Field,
    c: &'a Captured,
) -> Box<dyn Iterator<Item = Vec<u8>> + 'a> {
    match &c.raw.spill {
        None => Box::new(std::iter::once(n.apply_bytes(field, &c.raw.head))),
        Some(spill) => match spill.reader() {
            Ok(r) => Box::new(Lines::new(r).map(move |line| n.apply_bytes(field, &line))),
            // The copy is gone: what is left is the head.
            Err(_) => Box::new(std::iter::once(n.apply_bytes(field, &c.raw.head))),
        },
    }
}

/// A reader cut into blocks of whole lines: each block ends with a `\n`
/// (or the stream's end) and holds at most [`MAX_LINE`] bytes; a line
/// longer than that is cut.
struct Lines<R> {
    reader: R,
    buf: Vec<u8>,
    done: bool,
}

impl<R: Read> Lines<R> {
    fn new(reader: R) -> Lines<R> {
        Lines {
            reader,
            buf: Vec::new(),
            done: false,
        }
    }
}

impl<R: Read> Iterator for Lines<R> {
    type Item = Vec<u8>;

    fn next(&mut self) -> Option<Vec<u8>> {
        while !self.done && self.buf.len() < MAX_LINE {
            let mut chunk = vec![0u8; MAX_LINE - self.buf.len()];
            match self.reader.read(&mut chunk) {
                Ok(0) | Err(_) => self.done = true,
                Ok(k) => self.buf.extend_from_slice(&chunk[..k]),
            }
        }
        if self.buf.is_empty() {
            return None;
        }
        let end = if self.done && self.buf.len() <= MAX_LINE {
            self.buf.len()
        } else {
            let window = &self.buf[..MAX_LINE.min(self.buf.len())];
            window
                .iter()
                .rposition(|b| *b == b'\n')
                .map_or(window.len(), |i| i + 1)
        };
        let rest = self.buf.split_off(end);
        Some(std::mem::replace(&mut self.buf, rest))
    }
}

/// Where two normalized streams first differ.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Difference {
    /// Byte offset of the first differing byte (from 0).
    pub offset: u64,
    /// Its line (from 1).
    pub line: u64,
    /// Up to [`WINDOW`] bytes before and after, on each side, escaped
    /// where they are not UTF-8.
    pub left: String,
    pub right: String,
}

impl Difference {
    /// One line for reports.
    pub fn summary(&self, left_name: &str, right_name: &str) -> String {
        format!(
            "first difference at byte {} (line {}): {left_name} {:?} | {right_name} {:?}",
            self.offset, self.line, self.left, self.right
        )
    }
}

/// The first differing byte of stream `field` of two runs (each normalized
/// by its own side's rules), with context; `None` when they are equal.
pub fn first_difference(
    na: &dyn Rules,
    a: &Captured,
    nb: &dyn Rules,
    b: &Captured,
    field: Field,
) -> Option<Difference> {
    if !a.raw.complete || !b.raw.complete {
        return None;
    }
    let mut left = Cursor::new(normalized(na, field, a));
    let mut right = Cursor::new(normalized(nb, field, b));
    let mut before: Vec<u8> = Vec::new();
    let (mut offset, mut line) = (0u64, 1u64);
    loop {
        let (x, y) = (left.peek_chunk(), right.peek_chunk());
        if x.is_empty() || y.is_empty() {
            if x.is_empty() && y.is_empty() {
                return None;
            }
            break;
        }
        let n = x.len().min(y.len());
        let same = x[..n]
            .iter()
            .zip(&y[..n])
            .take_while(|(p, q)| p == q)
            .count();
        let span = &x[..same];
        line += span.iter().filter(|b| **b == b'\n').count() as u64;
        offset += same as u64;
        before.extend_from_slice(&span[span.len().saturating_sub(WINDOW)..]);
        if before.len() > WINDOW {
            before.drain(..before.len() - WINDOW);
        }
        left.advance(same);
        right.advance(same);
        if same < n {
            break;
        }
    }
    let side = |rest: &mut Cursor<'_>| {
        let mut bytes = before.clone();
        let after: Vec<u8> = rest.by_ref().take(WINDOW).collect();
        let ended = after.len() < WINDOW && rest.peek_chunk().is_empty();
        bytes.extend_from_slice(&after);
        let mut s = escape(&bytes);
        if ended {
            s.push_str("<end>");
        }
        s
    };
    Some(Difference {
        offset,
        line,
        left: side(&mut left),
        right: side(&mut right),
    })
}

/// The bytes of a chunked stream, one at a time.
struct Cursor<'a> {
    chunks: Box<dyn Iterator<Item = Vec<u8>> + 'a>,
    chunk: Vec<u8>,
    at: usize,
}

impl<'a> Cursor<'a> {
    fn new(chunks: Box<dyn Iterator<Item = Vec<u8>> + 'a>) -> Cursor<'a> {
        Cursor {
            chunks,
            chunk: Vec::new(),
            at: 0,
        }
    }
}

impl Cursor<'_> {
    /// The bytes not yet taken of the current chunk (empty at the end).
    fn peek_chunk(&mut self) -> &[u8] {
        while self.at >= self.chunk.len() {
            match self.chunks.next() {
                Some(c) => {
                    self.chunk = c;
                    self.at = 0;
                }
                None => return &[],
            }
        }
        &self.chunk[self.at..]
    }

    fn advance(&mut self, n: usize) {
        self.at += n;
    }
}

impl Iterator for Cursor<'_> {
    type Item = u8;

    fn next(&mut self) -> Option<u8> {
        while self.at >= self.chunk.len() {
            self.chunk = self.chunks.next()?;
            self.at = 0;
        }
        self.at += 1;
        Some(self.chunk[self.at - 1])
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::judge::normalize::Normalizer;
    use crate::run::capture::StreamCapture;
    use crate::run::observe::Subject;
    use proptest::prelude::*;

    fn capture(bytes: &[u8], keep: usize, chunk: usize) -> Captured {
        let mut c = StreamCapture::new(keep, u64::MAX);
        for part in bytes.chunks(chunk.max(1)) {
            c.push(part);
        }
        c.finish()
    }

    /// The real comparison: both streams through the normalizer into the
    /// compared texts, then `diff_fields`.
    fn differ(a: &Captured, b: &Captured, n: &Normalizer) -> bool {
        let t = |c: &Captured| {
            std::iter::once((
                Subject::from(Field::Stdout),
                stream_text(n, Field::Stdout, c),
            ))
            .collect()
        };
        !crate::judge::compare::diff_fields(&t(a), &t(b), "a", "b").is_empty()
    }

    /// A fast, seeded byte stream of any size.
    fn stream(seed: u64, len: usize) -> Vec<u8> {
        let mut x = seed | 1;
        let mut out = Vec::with_capacity(len + 8);
        while out.len() < len {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            out.extend_from_slice(&x.to_le_bytes());
        }
        out.truncate(len);
        out
    }

    #[test]
    fn bytes_that_are_not_utf8_never_merge() {
        let n = Normalizer::new(&[], &[]).unwrap();
        let (a, b) = (capture(b"\xff\n", 1024, 1), capture(b"\xfe\n", 1024, 1));
        assert!(differ(&a, &b, &n));
        assert!(!differ(&a, &capture(b"\xff\n", 1024, 2), &n));
        // Text that spells an escape is not the byte it spells.
        assert!(differ(&a, &capture(b"\\xff\n", 1024, 1), &n));
    }

    #[test]
    fn a_difference_past_the_kept_head_is_found_and_shown() {
        let n = Normalizer::new(&[], &[]).unwrap();
        let mut x = b"hello\n".repeat(1000);
        let mut y = x.clone();
        let at = y.len() - 3;
        y[at] = b'L';
        x.extend_from_slice(b"end\n");
        y.extend_from_slice(b"end\n");
        let (a, b) = (capture(&x, 100, 7), capture(&y, 100, 13));
        assert!(differ(&a, &b, &n));
        let d = first_difference(&n, &a, &n, &b, Field::Stdout).unwrap();
        assert_eq!(d.offset, at as u64);
        assert_eq!(d.line, 1000);
        assert!(d.left.ends_with("\nhello\nend\n<end>"), "{d:?}");
        assert!(d.right.ends_with("\nhelLo\nend\n<end>"), "{d:?}");
        assert_eq!(
            first_difference(&n, &a, &n, &capture(&x, 100, 5), Field::Stdout),
            None
        );
    }

    #[test]
    fn rules_apply_to_the_whole_stream_on_disk_too() {
        let id_a = "a".repeat(64);
        let id_b = "b".repeat(64);
        let n = Normalizer::new(&[], &[]).unwrap();
        let x = format!("{}id {id_a}\n", "x\n".repeat(500)).into_bytes();
        let y = format!("{}id {id_b}\n", "x\n".repeat(500)).into_bytes();
        // Past the head, on disk: the built-in id rule still applies.
        assert!(!differ(&capture(&x, 64, 9), &capture(&y, 64, 9), &n));
        assert!(!differ(
            &capture(&x, 1 << 20, 9),
            &capture(&y, 1 << 20, 9),
            &n
        ));
    }

    #[test]
    fn a_stream_longer_than_its_copy_is_still_compared_in_full() {
        let n = Normalizer::new(&[], &[]).unwrap();
        let cap = |bytes: &[u8]| {
            let mut c = StreamCapture::new(8, 16);
            c.push(bytes);
            c.finish()
        };
        let (a, b) = (cap(b"0123456789abcdefXYZ"), cap(b"0123456789abcdefXYz"));
        assert!(
            differ(&a, &b, &n),
            "the raw digest of all the bytes decides"
        );
        assert!(!differ(&a, &cap(b"0123456789abcdefXYZ"), &n));
    }

    /// Two streams one byte apart never compare equal, and the first
    /// difference is found where it is; the same stream, chunked another
    /// way, always compares equal.
    fn one_byte_apart(
        seed: u64,
        len: usize,
        at: usize,
        flip: u8,
        chunks: (usize, usize),
        keep: usize,
    ) -> Result<(), TestCaseError> {
        let n = Normalizer::exact();
        let a = stream(seed, len);
        let mut b = a.clone();
        b[at] ^= flip;
        let (ca, cb) = (capture(&a, keep, chunks.0), capture(&b, keep, chunks.1));
        prop_assert!(differ(&ca, &cb, &n));
        let d = first_difference(&n, &ca, &n, &cb, Field::Stdout).expect("a difference");
        prop_assert_eq!(d.offset, at as u64);
        prop_assert!(!differ(&ca, &capture(&a, keep, chunks.1), &n));
        Ok(())
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

        /// Small streams, around and below the kept head.
        #[test]
        fn one_byte_apart_is_never_parity(
            seed in any::<u64>(),
            len in 1usize..20_000,
            at in any::<prop::sample::Index>(),
            flip in 1u8..=255,
            chunks in (1usize..5_000, 1usize..5_000),
            keep in prop_oneof![Just(OUTPUT_CAP), 1usize..4096],
        ) {
            one_byte_apart(seed, len, at.index(len), flip, chunks, keep)?;
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 6, ..ProptestConfig::default() })]

        /// Streams of many MiB, far past the kept head: kept on disk.
        #[test]
        fn one_byte_apart_is_never_parity_at_any_size(
            seed in any::<u64>(),
            len in (1usize << 20)..(8usize << 20),
            at in any::<prop::sample::Index>(),
            flip in 1u8..=255,
            chunks in (1usize..70_000, 1usize..70_000),
        ) {
            one_byte_apart(seed, len, at.index(len), flip, chunks, OUTPUT_CAP)?;
        }
    }

    proptest! {

        /// Streams of different lengths, one a prefix of the other, differ.
        #[test]
        fn a_prefix_is_not_the_stream(seed in any::<u64>(), len in 2usize..300_000, cut in any::<prop::sample::Index>()) {
            let n = Normalizer::exact();
            let a = stream(seed, len);
            let k = cut.index(len - 1) + 1;
            prop_assert!(differ(&capture(&a, 1024, 4096), &capture(&a[..k], 1024, 4096), &n));
        }
    }
}
