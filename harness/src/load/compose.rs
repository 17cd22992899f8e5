//! `compose: PATH` in a stack scenario: the services, networks and
//! volumes of a Compose file, as it is.
//!
//! Owns reading the Compose file beside the scenario, its variable
//! interpolation as `docker compose` does it (`${VAR}`, `${VAR:-default}`,
//! `${VAR-default}`, `${VAR:?error}`, `${VAR?error}`, `$VAR`, `$$`, from
//! the environment over an `.env` file beside the Compose file), done on
//! the text before parsing so every error keeps its line, and the
//! selection `services: [a, b]`. The interpolated text is read twice:
//! first checked against the Compose specification by the `compose_spec`
//! crate (`check_spec`: what is not valid Compose is an error at the line
//! and column its parser reports), then read into the stack's own types by
//! the project's located YAML loader, so a key parity cannot honour is an
//! error at its line and column in the Compose file. The first validates,
//! the second maps.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::load::stack::{NetworkDef, StackService, VolumeDef};
use crate::load::yaml::{self, YamlError};

/// A Compose file's keys that a stack takes.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
pub struct ComposeFile {
    /// The project's name: accepted (parity names its own objects).
    #[serde(default)]
    pub name: Option<String>,
    /// Obsolete in the Compose specification: accepted, ignored.
    #[serde(default)]
    pub version: Option<String>,
    #[serde(default)]
    pub services: BTreeMap<String, Option<StackService>>,
    #[serde(default)]
    pub volumes: BTreeMap<String, Option<VolumeDef>>,
    #[serde(default)]
    pub networks: BTreeMap<String, Option<NetworkDef>>,
    /// The other top-level keys: the specification's extensions (`x-...`,
    /// often the anchors merge keys use), which Compose ignores. Any other
    /// key is refused by the specification check before this is read.
    #[serde(flatten)]
    pub extensions: BTreeMap<String, serde::de::IgnoredAny>,
}

/// A Compose file as read: where it is, its interpolated text, its keys.
#[derive(Debug, Clone)]
pub struct Compose {
    pub path: PathBuf,
    pub text: String,
    pub file: ComposeFile,
}

/// Reads the Compose file `rel` names, relative to `scenario_path`'s
/// folder; `at` locates an error at the scenario's `compose:` key.
pub fn read(
    scenario_path: &Path,
    rel: &str,
    at: &dyn Fn(String) -> YamlError,
) -> Result<Compose, YamlError> {
    let dir = scenario_path.parent().unwrap_or(Path::new("."));
    let path = dir.join(rel);
    let raw = std::fs::read_to_string(&path).map_err(|e| {
        at(format!(
            "cannot read the Compose file {}: {e}",
            path.display()
        ))
    })?;
    let env_file = path.parent().unwrap_or(Path::new(".")).join(".env");
    let dotenv = match std::fs::read_to_string(&env_file) {
        Ok(t) => parse_env_file(&t),
        Err(_) => BTreeMap::new(),
    };
    let lookup = |name: &str| {
        std::env::var(name)
            .ok()
            .or_else(|| dotenv.get(name).cloned())
    };
    let mut text = String::with_capacity(raw.len());
    for (i, line) in raw.split_inclusive('\n').enumerate() {
        match interpolate(line, &lookup) {
            Ok(l) => text.push_str(&l),
            Err((col, message)) => {
                return Err(YamlError::at(
                    &path,
                    &raw,
                    i as u64 + 1,
                    col as u64 + 1,
                    message,
                ));
            }
        }
    }
    check_spec(&path, &text)?;
    let file: ComposeFile = yaml::from_str(&path, &text)?;
    Ok(Compose { path, text, file })
}

/// Checks `text` (the contents of `path`, interpolated) against the
/// Compose specification as the `compose_spec` crate models it: a file
/// that is not valid Compose is an error at the line and column that
/// crate's parser reports, with its message.
///
/// Merge keys (`<<: *anchor`) are resolved only on the parsed value,
/// which has no positions: a file that needs them is checked merged, and
/// its error then stands at the merge key of the map the plain parse
/// stopped at.
pub fn check_spec(path: &Path, text: &str) -> Result<(), YamlError> {
    let Err(plain) = serde_yaml::from_str::<compose_spec::Compose>(text) else {
        return Ok(());
    };
    let plain_message = spec_message(&plain.to_string());
    let mut message = plain_message.clone();
    if plain_message.contains("extension key `<<`") {
        let merged = compose_spec::Compose::options()
            .apply_merge(true)
            .from_yaml_str(text);
        match merged {
            Ok(_) => return Ok(()),
            Err(e) => message = format!("{} (merge keys applied)", spec_message(&e.to_string())),
        }
    }
    let (line, column) = plain.location().map_or((1, 1), |l| {
        (l.line().max(1) as u64, l.column().max(1) as u64)
    });
    // An unknown key of a map read with extensions (`x-...`) is reported
    // at the map's first key: find the key itself.
    let (line, column) = plain_message
        .split_once("extension key `")
        .and_then(|(_, rest)| rest.split('`').next())
        .and_then(|key| yaml::key_in_map_at(text, key, line))
        .unwrap_or((line, column));
    Err(YamlError::at(
        path,
        text,
        line,
        column,
        format!("not valid Compose: {message}"),
    ))
}

/// serde_yaml's message without the " at line N column M" it appends (the
/// position is the error's own).
fn spec_message(message: &str) -> String {
    match message.rfind(" at line ") {
        Some(i) if message[i..].contains(" column ") => message[..i].to_string(),
        _ => message.to_string(),
    }
}

/// `KEY=VALUE` lines of an `.env` file (comments, blank lines and
/// `export ` prefixes skipped, one level of quotes removed).
pub fn parse_env_file(text: &str) -> BTreeMap<String, String> {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .filter_map(|l| l.strip_prefix("export ").unwrap_or(l).split_once('='))
        .map(|(k, v)| {
            let v = v.trim();
            let unquoted = [('"', '"'), ('\'', '\'')]
                .iter()
                .find_map(|(a, b)| v.strip_prefix(*a).and_then(|v| v.strip_suffix(*b)))
                .unwrap_or(v);
            (k.trim().to_string(), unquoted.to_string())
        })
        .collect()
}

/// One line with its variables filled in; `Err((column, message))` for
/// `${VAR:?error}` of an unset variable or a malformed reference.
pub fn interpolate(
    line: &str,
    lookup: &dyn Fn(&str) -> Option<String>,
) -> Result<String, (usize, String)> {
    let mut out = String::with_capacity(line.len());
    let bytes: Vec<char> = line.chars().collect();
    let mut i = 0;
    while i < bytes.len() {
        let c = bytes[i];
        if c != '$' {
            out.push(c);
            i += 1;
            continue;
        }
        match bytes.get(i + 1) {
            Some('$') => {
                out.push('$');
                i += 2;
            }
            Some('{') => {
                let start = i;
                let Some(end) = (i + 2..bytes.len()).find(|&j| bytes[j] == '}') else {
                    return Err((start, "unclosed ${ in a variable reference".into()));
                };
                let inner: String = bytes[i + 2..end].iter().collect();
                out.push_str(&expand(&inner, lookup).map_err(|m| (start, m))?);
                i = end + 1;
            }
            Some(n) if *n == '_' || n.is_ascii_alphabetic() => {
                let end = (i + 1..bytes.len())
                    .find(|&j| !(bytes[j] == '_' || bytes[j].is_ascii_alphanumeric()))
                    .unwrap_or(bytes.len());
                let name: String = bytes[i + 1..end].iter().collect();
                out.push_str(&lookup(&name).unwrap_or_default());
                i = end;
            }
            _ => {
                out.push('$');
                i += 1;
            }
        }
    }
    Ok(out)
}

/// The inside of `${...}`: `VAR`, `VAR:-default`, `VAR-default`,
/// `VAR:+alt`, `VAR+alt`, `VAR:?error`, `VAR?error`.
fn expand(inner: &str, lookup: &dyn Fn(&str) -> Option<String>) -> Result<String, String> {
    let name_end = inner
        .find(|c: char| !(c == '_' || c.is_ascii_alphanumeric()))
        .unwrap_or(inner.len());
    let (name, rest) = inner.split_at(name_end);
    if name.is_empty() {
        return Err(format!("${{{inner}}} names no variable"));
    }
    let value = lookup(name);
    let set = value.is_some();
    let non_empty = value.as_deref().is_some_and(|v| !v.is_empty());
    let arg = |op: &str| rest[op.len()..].to_string();
    Ok(match rest {
        "" => value.unwrap_or_default(),
        r if r.starts_with(":-") => value.filter(|_| non_empty).unwrap_or_else(|| arg(":-")),
        r if r.starts_with('-') => value.unwrap_or_else(|| arg("-")),
        r if r.starts_with(":+") => {
            if non_empty {
                arg(":+")
            } else {
                String::new()
            }
        }
        r if r.starts_with('+') => {
            if set {
                arg("+")
            } else {
                String::new()
            }
        }
        r if r.starts_with(":?") || r.starts_with('?') => {
            let op = if r.starts_with(":?") { ":?" } else { "?" };
            let ok = if op == ":?" { non_empty } else { set };
            if !ok {
                let why = arg(op);
                return Err(match why.is_empty() {
                    true => format!("required variable {name} is not set"),
                    false => format!("required variable {name} is not set: {why}"),
                });
            }
            value.unwrap_or_default()
        }
        _ => return Err(format!("${{{inner}}}: unknown modifier {rest:?}")),
    })
}

/// The services `selected` names (all when empty), or the first name the
/// Compose file does not have.
pub fn select(
    file: &ComposeFile,
    selected: &[String],
) -> Result<BTreeMap<String, StackService>, String> {
    let all: BTreeMap<String, StackService> = file
        .services
        .iter()
        .map(|(k, v)| (k.clone(), v.clone().unwrap_or_default()))
        .collect();
    if selected.is_empty() {
        return Ok(all);
    }
    let mut out = BTreeMap::new();
    for name in selected {
        match all.get(name) {
            Some(s) => {
                out.insert(name.clone(), s.clone());
            }
            None => {
                let known: Vec<&str> = all.keys().map(String::as_str).collect();
                return Err(format!(
                    "the Compose file has no service {name:?} (it has {})",
                    known.join(", ")
                ));
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    fn env(name: &str) -> Option<String> {
        match name {
            "SET" => Some("v".into()),
            "EMPTY" => Some(String::new()),
            _ => None,
        }
    }

    #[rstest]
    #[case("a ${SET} b", "a v b")]
    #[case("$SET/x", "v/x")]
    #[case("${UNSET:-d}", "d")]
    #[case("${EMPTY:-d}", "d")]
    #[case("${EMPTY-d}", "")]
    #[case("${UNSET-d}", "d")]
    #[case("${SET:+alt}", "alt")]
    #[case("$$HOME and $$", "$HOME and $")]
    #[case("${UNSET}", "")]
    #[case("cost $5", "cost $5")]
    fn interpolates_as_compose_does(#[case] line: &str, #[case] want: &str) {
        assert_eq!(interpolate(line, &env).unwrap(), want);
    }

    #[test]
    fn required_variables_are_located_errors() {
        let (col, msg) = interpolate("  image: ${TAG:?set TAG}", &env).unwrap_err();
        assert_eq!(col, 9);
        assert!(msg.contains("TAG is not set: set TAG"), "{msg}");
        assert!(interpolate("x ${OPEN", &env).is_err());
    }

    /// `read` of `text` as `compose.yaml` in a fresh folder.
    fn read_text(text: &str) -> Result<Compose, YamlError> {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("compose.yaml"), text).unwrap();
        let scenario = dir.path().join("stack.yaml");
        let at = |m: String| YamlError::at(&scenario, "", 1, 1, m);
        read(&scenario, "compose.yaml", &at)
    }

    #[test]
    fn a_valid_compose_file_passes_the_specification_and_parity() {
        let text = "name: shop\nx-common: &common\n  image: busybox\nservices:\n  db:\n    <<: *common\n    command: sleep 60\n    healthcheck:\n      test: [CMD, \"true\"]\n      interval: 1s\n  web:\n    image: busybox\n    depends_on:\n      db: { condition: service_healthy }\n    volumes: [data:/data]\nvolumes:\n  data:\n";
        let c = read_text(text).unwrap();
        assert_eq!(
            c.file.services.keys().collect::<Vec<_>>(),
            ["db", "web"].iter().collect::<Vec<_>>()
        );
    }

    #[rstest]
    #[case(
        "services:\n  a:\n    image: busybox\n    depends_on:\n      b: {condition: bogus}\n  b:\n    image: busybox\n",
        5,
        "unknown variant `bogus`"
    )]
    #[case(
        "services:\n  a:\n    image: busybox\n    healthcheck:\n      interval: soon\n",
        5,
        "services.a.healthcheck.interval"
    )]
    #[case("services:\n  a:\n    image: busybox\nserivces: {}\n", 4, "`serivces`")]
    #[case(
        "x-base: &base\n  cap_add: 5\nservices:\n  a:\n    image: busybox\n    <<: *base\n",
        6,
        "(merge keys applied)"
    )]
    #[case(
        "services:\n  a:\n    image: busybox\n    cap_add: 5\n",
        4,
        "services.a.cap_add"
    )]
    fn what_the_specification_refuses_is_located_in_the_compose_file(
        #[case] text: &str,
        #[case] line: u64,
        #[case] needle: &str,
    ) {
        let err = read_text(text).unwrap_err();
        assert!(err.path.ends_with("compose.yaml"), "{err}");
        assert_eq!(err.line, line, "{err}");
        assert!(err.message.starts_with("not valid Compose: "), "{err}");
        assert!(err.message.contains(needle), "{err}");
    }

    #[test]
    fn an_unknown_service_key_is_located_at_itself() {
        let text = "services:\n  a:\n    image: busybox\n    command: sleep 1\n    colour: red\n";
        let err = read_text(text).unwrap_err();
        assert_eq!((err.line, err.column), (5, 5), "{err}");
        assert!(err.message.contains("`colour`"), "{err}");
    }

    #[test]
    fn what_the_specification_accepts_but_parity_refuses_keeps_parity_error() {
        let text = "services:\n  a:\n    image: busybox\n    restart: always\n";
        assert!(check_spec(Path::new("compose.yaml"), text).is_ok());
        let err = read_text(text).unwrap_err();
        assert!(err.path.ends_with("compose.yaml"), "{err}");
        assert_eq!(err.line, 4, "{err}");
        assert!(!err.message.starts_with("not valid Compose"), "{err}");
        assert!(err.message.contains("restart"), "{err}");
    }

    #[test]
    fn env_files_read_as_compose_reads_them() {
        let m = parse_env_file("# c\nA=1\nexport B=\"two words\"\n\nC='x'\n");
        assert_eq!(m["A"], "1");
        assert_eq!(m["B"], "two words");
        assert_eq!(m["C"], "x");
    }
}
