//! Byte-exact capture of an output stream, in bounded memory.
//!
//! Owns what is kept of a stream while it is read (a container's stdout or
//! stderr, a step's, a build's): its true length, the SHA-256 of every
//! byte, the first [`OUTPUT_CAP`] bytes in memory for display, and, past
//! that, the whole stream spilled to a temporary file (up to [`SPILL_CAP`])
//! so that the first difference between two long streams can still be
//! found and shown. Also owns the lossless text form of bytes that are not
//! UTF-8, and [`Captured`], the stream as an observation holds it. It reads
//! nothing from an engine itself: the engine pushes the bytes in.

use std::io::{Read, Write};
use std::path::Path;
use std::sync::Arc;

use sha2::{Digest, Sha256};

use serde::{Deserialize, Serialize};

/// Bytes of each stream kept in memory for display; the rest is counted,
/// hashed and kept on disk.
pub const OUTPUT_CAP: usize = 1024 * 1024;

/// How much of a long stream is kept on disk: past it the stream is still
/// counted and hashed, but its bytes are not kept.
pub const SPILL_CAP: u64 = 256 * 1024 * 1024;

/// A stream being read.
#[derive(Debug)]
pub struct StreamCapture {
    keep: usize,
    spill_cap: u64,
    head: Vec<u8>,
    len: u64,
    hasher: Sha256,
    spill: Option<(tempfile::NamedTempFile, u64)>,
    spill_error: Option<String>,
}

impl Default for StreamCapture {
    fn default() -> Self {
        StreamCapture::new(OUTPUT_CAP, SPILL_CAP)
    }
}

impl StreamCapture {
    /// Keeps `keep` bytes in memory and up to `spill_cap` on disk.
    pub fn new(keep: usize, spill_cap: u64) -> StreamCapture {
        StreamCapture {
            keep,
            spill_cap,
            head: Vec::new(),
            len: 0,
            hasher: Sha256::new(),
            spill: None,
            spill_error: None,
        }
    }

    /// Takes the next bytes of the stream.
    pub fn push(&mut self, bytes: &[u8]) {
        if bytes.is_empty() {
            return;
        }
        self.len += bytes.len() as u64;
        self.hasher.update(bytes);
        let room = self.keep.saturating_sub(self.head.len());
        self.head.extend_from_slice(&bytes[..bytes.len().min(room)]);
        if self.len > self.keep as u64 {
            self.spill_bytes(bytes, room);
        }
    }

    /// Bytes read so far.
    pub fn len(&self) -> u64 {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    fn spill_bytes(&mut self, bytes: &[u8], kept_now: usize) {
        if self.spill_error.is_some() {
            return;
        }
        if self.spill.is_none() {
            // The stream just outgrew the head: start the file with the
            // head, then continue with what did not fit.
            let created = tempfile::Builder::new()
                .prefix("parity-stream-")
                .tempfile()
                .and_then(|mut f| {
                    f.write_all(&self.head)?;
                    Ok(f)
                });
            match created {
                Ok(f) => self.spill = Some((f, self.head.len() as u64)),
                Err(e) => {
                    self.spill_error = Some(format!("cannot keep the stream on disk: {e}"));
                    return;
                }
            }
            let rest = &bytes[kept_now.min(bytes.len())..];
            self.write_spill(rest);
        } else {
            self.write_spill(bytes);
        }
    }

    fn write_spill(&mut self, bytes: &[u8]) {
        let Some((file, written)) = self.spill.as_mut() else {
            return;
        };
        let room = self.spill_cap.saturating_sub(*written) as usize;
        let part = &bytes[..bytes.len().min(room)];
        if part.is_empty() {
            return;
        }
        match file.write_all(part) {
            Ok(()) => *written += part.len() as u64,
            Err(e) => self.spill_error = Some(format!("cannot keep the stream on disk: {e}")),
        }
    }

    /// The captured stream.
    pub fn finish(self) -> Captured {
        let truncated = self.len > self.head.len() as u64;
        let (text, escaped) = display(&self.head, truncated);
        let spill = self.spill.and_then(|(mut file, written)| {
            file.flush().ok()?;
            Some(Arc::new(Spill { file, len: written }))
        });
        Captured {
            text,
            escaped,
            bytes: self.len,
            sha256: hex(&self.hasher.finalize()),
            truncated_at: truncated.then_some(self.head.len() as u64),
            raw: RawStream {
                head: Arc::new(self.head),
                spill,
                complete: true,
            },
        }
    }
}

/// A long stream kept on disk, removed when the last observation holding
/// it is dropped.
#[derive(Debug)]
pub struct Spill {
    file: tempfile::NamedTempFile,
    /// Bytes in the file: the stream's first `len` bytes.
    pub len: u64,
}

impl Spill {
    pub fn path(&self) -> &Path {
        self.file.path()
    }

    /// Reads the kept bytes from the start.
    pub fn reader(&self) -> std::io::Result<impl Read + use<>> {
        Ok(std::io::BufReader::new(std::fs::File::open(self.path())?))
    }
}

/// Lowercase hex of a digest.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// SHA-256 of `bytes`, as hex.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex(&Sha256::digest(bytes))
}

/// The text form of `bytes` and whether it is escaped. Valid UTF-8 is
/// itself. Otherwise every byte that is not part of valid UTF-8 is written
/// `\xNN` and every backslash `\\`, so the text maps back to exactly one
/// byte sequence. With `cut` (the bytes are the head of a longer stream),
/// a UTF-8 sequence cut short at the end is left out of the text rather
/// than shown as escapes: the rest of it was not kept.
pub fn display(bytes: &[u8], cut: bool) -> (String, bool) {
    let bytes = if cut { trim_cut_char(bytes) } else { bytes };
    match std::str::from_utf8(bytes) {
        Ok(s) => (s.to_string(), false),
        Err(_) => (escape(bytes), true),
    }
}

/// The escaped form of `bytes` (see [`display`]).
pub fn escape(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len() + 16);
    for chunk in bytes.utf8_chunks() {
        for c in chunk.valid().chars() {
            if c == '\\' {
                out.push_str("\\\\");
            } else {
                out.push(c);
            }
        }
        for b in chunk.invalid() {
            out.push_str(&format!("\\x{b:02x}"));
        }
    }
    out
}

/// The bytes an escaped text stands for (the inverse of [`escape`]).
pub fn unescape(text: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(text.len());
    let b = text.as_bytes();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\' && i + 1 < b.len() {
            if b[i + 1] == b'\\' {
                out.push(b'\\');
                i += 2;
                continue;
            }
            if b[i + 1] == b'x' && i + 3 < b.len() {
                if let Ok(v) = u8::from_str_radix(&text[i + 2..i + 4], 16) {
                    out.push(v);
                    i += 4;
                    continue;
                }
            }
        }
        out.push(b[i]);
        i += 1;
    }
    out
}

/// `bytes` without a trailing, incomplete UTF-8 sequence (at most 3 bytes).
fn trim_cut_char(bytes: &[u8]) -> &[u8] {
    let n = bytes.len();
    for back in 1..=3.min(n) {
        let b = bytes[n - back];
        if b & 0xC0 == 0x80 {
            continue; // a continuation byte: look further back
        }
        let need = match b {
            0xC0..=0xDF => 2,
            0xE0..=0xEF => 3,
            0xF0..=0xF7 => 4,
            _ => return bytes,
        };
        return if need > back {
            &bytes[..n - back]
        } else {
            bytes
        };
    }
    bytes
}

/// A captured output stream: its true length and digest, and its first
/// bytes for display.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Captured {
    /// The kept bytes (the first `truncated_at` when truncated) as text.
    /// Valid UTF-8 is shown as it is; when `escaped` is set, each byte that
    /// is not part of valid UTF-8 is written `\xNN` and each backslash
    /// `\\`, so the text maps back to exactly the bytes written.
    pub text: String,
    /// Set when `text` is escaped (the bytes are not valid UTF-8).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub escaped: bool,
    /// Bytes the workload wrote in all: the true length, not the kept one.
    pub bytes: u64,
    /// SHA-256 (hex) of every byte written. Two streams are equal only when
    /// their lengths and digests are.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub sha256: String,
    /// Set when `text` holds only the first `truncated_at` bytes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub truncated_at: Option<u64>,
    /// The bytes themselves, for normalizing and comparing; not in results.
    #[serde(skip)]
    #[schemars(skip)]
    pub raw: RawStream,
}

/// The bytes of a captured stream: the kept head in memory, and the whole
/// stream on disk when it was longer than the head.
#[derive(Debug, Clone, Default)]
pub struct RawStream {
    pub head: Arc<Vec<u8>>,
    pub spill: Option<Arc<Spill>>,
    /// False when the bytes are not known (a stream read back from a
    /// results file carries only its text).
    pub complete: bool,
}

/// Two captures are told apart by what they say of the stream (length,
/// digest, text): the raw bytes are the same stream's bytes, kept for
/// normalizing, so they never decide equality (a results file read back
/// has none and still equals what was written).
impl PartialEq for RawStream {
    fn eq(&self, _: &Self) -> bool {
        true
    }
}

impl Eq for RawStream {}

impl Captured {
    /// A stream that wrote exactly `bytes`.
    pub fn from_bytes(bytes: &[u8]) -> Captured {
        let mut c = StreamCapture::default();
        c.push(bytes);
        c.finish()
    }

    /// Every byte of the stream, when they are all known (in memory, or
    /// kept on disk in full).
    pub fn read_all(&self) -> Option<Vec<u8>> {
        if !self.raw.complete {
            return None;
        }
        match &self.raw.spill {
            None => Some(self.raw.head.to_vec()),
            Some(s) if s.len == self.bytes => {
                let mut out = Vec::with_capacity(self.bytes as usize);
                s.reader().ok()?.read_to_end(&mut out).ok()?;
                Some(out)
            }
            Some(_) => None,
        }
    }

    /// The canonical text of the stream, before normalization: the text
    /// itself when it is the whole stream as valid UTF-8; else the text with
    /// a last line that gives the true length and digest, so two different
    /// byte streams never have the same canonical text.
    pub fn canonical(&self) -> String {
        stream_canonical(
            &self.text,
            self.escaped,
            self.truncated_at,
            self.bytes,
            &self.sha256,
        )
    }
}

/// The canonical text of a stream from its parts (see
/// [`Captured::canonical`]); normalization builds the same form from the
/// normalized bytes.
pub fn stream_canonical(
    text: &str,
    escaped: bool,
    truncated_at: Option<u64>,
    bytes: u64,
    sha256: &str,
) -> String {
    match (truncated_at, escaped) {
        (Some(kept), _) => format!(
            "{text}\n[output truncated: the first {kept} of {bytes} bytes shown; sha256 of all {bytes}: {sha256}]"
        ),
        (None, true) => format!(
            "{text}\n[not UTF-8: {bytes} bytes, sha256 {sha256}; shown with \\xNN for bytes that are not UTF-8 and \\\\ for backslashes]"
        ),
        (None, false) => text.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    fn capture(chunks: &[&[u8]], keep: usize) -> Captured {
        let mut c = StreamCapture::new(keep, 1 << 20);
        for ch in chunks {
            c.push(ch);
        }
        c.finish()
    }

    #[rstest]
    #[case::utf8(b"ok\n", "ok\n", false)]
    #[case::ff(b"\xff\n", "\\xff\n", true)]
    #[case::backslash_with_invalid(b"a\\x\xfe", "a\\\\x\\xfe", true)]
    #[case::backslash_alone(b"a\\xff", "a\\xff", false)]
    fn bytes_show_losslessly(#[case] bytes: &[u8], #[case] text: &str, #[case] escaped: bool) {
        let c = capture(&[bytes], 1024);
        assert_eq!((c.text.as_str(), c.escaped), (text, escaped));
        assert_eq!(
            c.bytes,
            bytes.len() as u64,
            "the byte count is the real one"
        );
        if escaped {
            assert_eq!(unescape(&c.text), bytes);
        }
    }

    #[test]
    fn the_true_length_and_digest_cover_the_whole_stream() {
        let whole: Vec<u8> = (0..10_000u32).flat_map(|i| i.to_le_bytes()).collect();
        let c = capture(&[&whole[..7], &whole[7..30_001], &whole[30_001..]], 100);
        assert_eq!(c.bytes, whole.len() as u64);
        assert_eq!(c.sha256, sha256_hex(&whole));
        assert_eq!(c.truncated_at, Some(100));
        assert_eq!(&c.raw.head[..], &whole[..100]);
        let spill = c.raw.spill.as_ref().expect("spilled");
        let mut back = Vec::new();
        spill.reader().unwrap().read_to_end(&mut back).unwrap();
        assert_eq!(back, whole, "the spill holds every byte in order");
    }

    #[test]
    fn the_spill_stops_at_its_cap_but_counting_does_not() {
        let mut c = StreamCapture::new(4, 10);
        c.push(b"0123456789abcdef");
        let c = c.finish();
        assert_eq!(c.bytes, 16);
        assert_eq!(c.raw.spill.as_ref().unwrap().len, 10);
    }

    #[test]
    fn a_character_cut_by_the_cap_is_not_shown_as_escapes() {
        let c = capture(&["aé".as_bytes()], 2); // 'a', then the first byte of 'é'
        assert_eq!((c.text.as_str(), c.escaped), ("a", false));
        assert_eq!(c.bytes, 3);
    }

    #[test]
    fn spill_files_go_away_with_the_observation() {
        let c = capture(&[&[b'x'; 64]], 8);
        let path = c.raw.spill.as_ref().unwrap().path().to_path_buf();
        assert!(path.exists());
        drop(c);
        assert!(!path.exists());
    }
}
