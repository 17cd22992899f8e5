//! YAML loading for author-facing files (scenarios, runtime profiles).
//!
//! Owns the one place where YAML text becomes typed values, and turns every
//! parse or shape error into a [`YamlError`] that names the file, the line and
//! the column, with a snippet for terminals. It knows nothing of what the
//! types mean.

use std::fmt;
use std::path::{Path, PathBuf};

use miette::{Diagnostic, NamedSource, SourceSpan};
use serde::de::DeserializeOwned;

/// A YAML file that could not be read into the expected shape.
#[derive(Debug, Diagnostic, Clone)]
#[diagnostic(code(parity::yaml))]
pub struct YamlError {
    pub path: PathBuf,
    pub line: u64,
    pub column: u64,
    pub message: String,
    #[source_code]
    pub src: NamedSource<String>,
    #[label("{message}")]
    pub span: SourceSpan,
}

impl fmt::Display for YamlError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}:{}:{}: {}",
            self.path.display(),
            self.line,
            self.column,
            self.message
        )
    }
}

impl std::error::Error for YamlError {}

impl YamlError {
    /// An error at a known position of `text`, for checks done after parsing.
    pub fn at(path: &Path, text: &str, line: u64, column: u64, message: impl Into<String>) -> Self {
        let offset = offset_of(text, line, column);
        YamlError {
            path: path.to_path_buf(),
            line,
            column,
            message: message.into(),
            src: NamedSource::new(path.display().to_string(), text.to_string()),
            span: SourceSpan::new(offset.into(), 1usize),
        }
    }

    /// The error with a terminal snippet, as `parity lint` prints it.
    pub fn render(&self) -> String {
        let mut out = String::new();
        let handler =
            miette::GraphicalReportHandler::new_themed(miette::GraphicalTheme::unicode_nocolor());
        if handler.render_report(&mut out, self).is_err() {
            return self.to_string();
        }
        out
    }
}

/// Reads `text` (the contents of `path`) as a `T`.
pub fn from_str<T: DeserializeOwned>(path: &Path, text: &str) -> Result<T, YamlError> {
    serde_saphyr::from_str::<T>(text).map_err(|err| convert(path, text, &err))
}

fn convert(path: &Path, text: &str, err: &serde_saphyr::Error) -> YamlError {
    let (line, column) = err
        .location()
        .map(|l| (l.line(), l.column()))
        .unwrap_or((1, 1));
    let message = strip_position(&err.without_snippet().to_string());
    let (line, column) = unknown_key_at(text, &message, line.max(1)).unwrap_or((line, column));
    YamlError::at(path, text, line.max(1), column.max(1), message)
}

/// Where an unknown key really is when the error points at its map's
/// first key (a map read with `#[serde(flatten)]` reports unknown keys
/// once it has seen them all): the key's first line from there on, at the
/// same indentation as the reported one.
fn unknown_key_at(text: &str, message: &str, line: u64) -> Option<(u64, u64)> {
    let key = message.strip_prefix("unknown field `")?.split('`').next()?;
    key_in_map_at(text, key, line)
}

/// Where `key` is in the map whose first key (or whose start) is at
/// `line`: its first line from there on at the same indentation, or `None`
/// when the reported line is the key itself or the key is not found.
pub fn key_in_map_at(text: &str, key: &str, line: u64) -> Option<(u64, u64)> {
    let lines: Vec<&str> = text.lines().collect();
    let reported = lines.get(line as usize - 1)?;
    let indent = reported.len() - reported.trim_start_matches([' ', '-']).len();
    let needle = format!("{key}:");
    if reported[indent..].starts_with(&needle) {
        return None;
    }
    lines
        .iter()
        .enumerate()
        .skip(line as usize - 1)
        .take_while(|(i, l)| {
            *i == line as usize - 1
                || l.trim().is_empty()
                || l.len() - l.trim_start().len() >= indent
        })
        .find(|(_, l)| l.len() > indent && l[indent..].starts_with(&needle))
        .map(|(i, _)| (i as u64 + 1, indent as u64 + 1))
}

/// serde-saphyr appends " at line N, column M" to its plain message; the
/// position is already in the error's own fields.
fn strip_position(message: &str) -> String {
    match message.rfind(" at line ") {
        Some(i) if message[i..].contains(", column ") => message[..i].to_string(),
        _ => message.to_string(),
    }
}

/// Byte offset of a 1-based line and column (in characters) within `text`.
pub fn offset_of(text: &str, line: u64, column: u64) -> usize {
    let mut offset = 0;
    for (i, l) in text.split_inclusive('\n').enumerate() {
        if i as u64 + 1 == line {
            let col = l
                .char_indices()
                .nth(column.saturating_sub(1) as usize)
                .map(|(b, _)| b)
                .unwrap_or(l.trim_end_matches('\n').len());
            return offset + col;
        }
        offset += l.len();
    }
    text.len().saturating_sub(1)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    #[expect(dead_code)]
    struct T {
        name: String,
        count: Option<u32>,
    }

    #[test]
    fn unknown_key_names_file_line_column() {
        let text = "name: x\ncuont: 3\n";
        let err = from_str::<T>(Path::new("s/a.yaml"), text).unwrap_err();
        assert_eq!(err.line, 2);
        assert_eq!(err.column, 1);
        let shown = err.to_string();
        assert!(
            shown.starts_with("s/a.yaml:2:1: unknown field `cuont`"),
            "{shown}"
        );
        assert!(shown.contains("expected one of"), "{shown}");
        assert!(err.render().contains("cuont: 3"));
    }

    #[test]
    fn wrong_type_is_located() {
        let err = from_str::<T>(Path::new("b.yaml"), "name: x\ncount: two\n").unwrap_err();
        assert_eq!((err.line, err.column), (2, 8));
    }

    #[test]
    fn offsets_count_characters() {
        assert_eq!(offset_of("ab\ncd\n", 2, 2), 4);
        assert_eq!(offset_of("é\nx", 2, 1), 3);
    }
}
