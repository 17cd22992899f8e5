//! Command-line parsing for the two subcommands (hand-rolled: the probe
//! stays small and static). Owns the usage text and the argument structs;
//! running them is `wrap` and `attach`.

use crate::facts::FactSet;
use crate::out::DEFAULT_OUT;
use std::ffi::OsString;
use std::path::PathBuf;

pub const USAGE: &str = "\
usage: parity-probe wrap [--out DIR] [--wait-tracer SECS] [--mounts]
                         [--facts capabilities,id_maps,security,devices] -- ARGV...
       parity-probe attach (--pid PID | --pid-file FILE) [--out DIR] [--syscalls] [--mounts]
                           [--report-stdout]
       parity-probe snapshot --pid PID [--out DIR]
       parity-probe exists PATH
       parity-probe --version";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WrapArgs {
    pub out: PathBuf,
    pub wait_tracer: u64,
    pub mounts: bool,
    pub facts: FactSet,
    pub argv: Vec<OsString>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttachArgs {
    pub pid: i32,
    /// Where the wrapper writes its pid, when it is not known in advance
    /// (waited for, like the wrapper waits for the tracer).
    pub pid_file: Option<PathBuf>,
    pub out: PathBuf,
    pub syscalls: bool,
    pub mounts: bool,
    /// Write the report to standard output instead of `OUT/report.json`
    /// (the harness reads it from the exec's stream: no download).
    pub report_stdout: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    Wrap(WrapArgs),
    Attach(AttachArgs),
    /// Reads PID's mount table now and completes `OUT/before.json` with it
    /// into `OUT/report.json` (a service that keeps running).
    Snapshot {
        pid: i32,
        out: PathBuf,
    },
    /// Exits 0 when PATH exists (a service's readiness file).
    Exists(PathBuf),
    Version,
}

/// Takes the value of `--name VALUE` or `--name=VALUE`.
fn value(
    arg: &str,
    name: &str,
    rest: &mut impl Iterator<Item = OsString>,
) -> Option<Result<String, String>> {
    if arg == name {
        return Some(
            rest.next()
                .and_then(|v| v.into_string().ok())
                .ok_or_else(|| format!("{name} needs a value")),
        );
    }
    arg.strip_prefix(name)
        .and_then(|r| r.strip_prefix('='))
        .map(|v| Ok(v.to_owned()))
}

fn number<T: std::str::FromStr>(name: &str, v: Result<String, String>) -> Result<T, String> {
    let v = v?;
    v.parse()
        .map_err(|_| format!("{name}: not a number: {v:?}"))
}

/// Parses the arguments after the program name.
pub fn parse(args: Vec<OsString>) -> Result<Command, String> {
    let mut it = args.into_iter();
    let sub = it.next().ok_or("missing subcommand")?;
    match sub.to_str() {
        Some("wrap") => parse_wrap(it).map(Command::Wrap),
        Some("attach") => parse_attach(it).map(Command::Attach),
        Some("snapshot") => parse_snapshot(it),
        Some("exists") => match (it.next(), it.next()) {
            (Some(p), None) => Ok(Command::Exists(PathBuf::from(p))),
            _ => Err("exists: one PATH expected".into()),
        },
        Some("--version" | "-V") => Ok(Command::Version),
        _ => Err(format!("unknown subcommand {sub:?}")),
    }
}

fn parse_wrap(mut it: impl Iterator<Item = OsString>) -> Result<WrapArgs, String> {
    let mut w = WrapArgs {
        out: PathBuf::from(DEFAULT_OUT),
        wait_tracer: 0,
        mounts: false,
        facts: FactSet::default(),
        argv: Vec::new(),
    };
    while let Some(arg) = it.next() {
        let Some(s) = arg.to_str().filter(|s| s.starts_with("--")) else {
            // The first non-option word starts the workload's argv.
            w.argv.push(arg);
            break;
        };
        if s == "--" {
            break;
        }
        let s = s.to_owned();
        if s == "--mounts" {
            w.mounts = true;
        } else if let Some(v) = value(&s, "--out", &mut it) {
            w.out = PathBuf::from(v?);
        } else if let Some(v) = value(&s, "--wait-tracer", &mut it) {
            w.wait_tracer = number("--wait-tracer", v)?;
        } else if let Some(v) = value(&s, "--facts", &mut it) {
            w.facts = FactSet::parse(&v?)?;
        } else {
            return Err(format!("wrap: unknown option {s}"));
        }
    }
    w.argv.extend(it);
    if w.argv.is_empty() {
        return Err("wrap: no workload argv after --".into());
    }
    Ok(w)
}

fn parse_attach(mut it: impl Iterator<Item = OsString>) -> Result<AttachArgs, String> {
    let mut a = AttachArgs {
        pid: 0,
        pid_file: None,
        out: PathBuf::from(DEFAULT_OUT),
        syscalls: false,
        mounts: false,
        report_stdout: false,
    };
    while let Some(arg) = it.next() {
        let s = arg
            .into_string()
            .map_err(|a| format!("attach: bad argument {a:?}"))?;
        if s == "--report-stdout" {
            a.report_stdout = true;
        } else if s == "--syscalls" {
            a.syscalls = true;
        } else if s == "--mounts" {
            a.mounts = true;
        } else if let Some(v) = value(&s, "--pid-file", &mut it) {
            a.pid_file = Some(PathBuf::from(v?));
        } else if let Some(v) = value(&s, "--pid", &mut it) {
            a.pid = number("--pid", v)?;
        } else if let Some(v) = value(&s, "--out", &mut it) {
            a.out = PathBuf::from(v?);
        } else {
            return Err(format!("attach: unknown argument {s}"));
        }
    }
    if (a.pid <= 0) == a.pid_file.is_none() {
        return Err("attach: one of --pid PID or --pid-file FILE is required".into());
    }
    Ok(a)
}

fn parse_snapshot(mut it: impl Iterator<Item = OsString>) -> Result<Command, String> {
    let (mut pid, mut out) = (0, PathBuf::from(DEFAULT_OUT));
    while let Some(arg) = it.next() {
        let s = arg
            .into_string()
            .map_err(|a| format!("snapshot: bad argument {a:?}"))?;
        if let Some(v) = value(&s, "--pid", &mut it) {
            pid = number("--pid", v)?;
        } else if let Some(v) = value(&s, "--out", &mut it) {
            out = PathBuf::from(v?);
        } else {
            return Err(format!("snapshot: unknown argument {s}"));
        }
    }
    if pid <= 0 {
        return Err("snapshot: --pid PID is required".into());
    }
    Ok(Command::Snapshot { pid, out })
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    fn args(s: &str) -> Vec<OsString> {
        s.split(' ').map(OsString::from).collect()
    }

    #[test]
    fn parses_wrap() {
        let c = parse(args(
            "wrap --out /o --wait-tracer 10 --mounts --facts capabilities,devices -- sh -c --mounts",
        ))
        .unwrap();
        let Command::Wrap(w) = c else { panic!("{c:?}") };
        assert_eq!(w.out, PathBuf::from("/o"));
        assert_eq!(w.wait_tracer, 10);
        assert!(w.mounts && w.facts.capabilities && w.facts.devices && !w.facts.security);
        assert_eq!(w.argv, args("sh -c --mounts"));
    }

    #[test]
    fn wrap_argv_may_start_without_double_dash() {
        let Command::Wrap(w) = parse(args("wrap --wait-tracer=3 echo -- x")).unwrap() else {
            panic!()
        };
        assert_eq!((w.wait_tracer, w.argv), (3, args("echo -- x")));
        assert_eq!(w.out, PathBuf::from(DEFAULT_OUT));
    }

    #[test]
    fn parses_attach() {
        let c = parse(args(
            "attach --pid 1 --syscalls --mounts --out=/x --report-stdout",
        ))
        .unwrap();
        assert_eq!(
            c,
            Command::Attach(AttachArgs {
                pid: 1,
                pid_file: None,
                out: "/x".into(),
                syscalls: true,
                mounts: true,
                report_stdout: true,
            })
        );
    }

    #[test]
    fn parses_the_service_forms() {
        let Command::Attach(a) = parse(args(
            "attach --pid-file /o/s/wrap.pid --out /o/s --syscalls",
        ))
        .unwrap() else {
            panic!()
        };
        assert_eq!((a.pid, a.pid_file), (0, Some("/o/s/wrap.pid".into())));
        assert_eq!(
            parse(args("snapshot --pid 1 --out /o")).unwrap(),
            Command::Snapshot {
                pid: 1,
                out: "/o".into()
            }
        );
        assert_eq!(
            parse(args("exists /run/x")).unwrap(),
            Command::Exists("/run/x".into())
        );
    }

    #[rstest]
    #[case("attach --pid 1 --pid-file /x")]
    #[case("snapshot")]
    #[case("snapshot --pid 1 --bogus")]
    #[case("exists")]
    #[case("exists /a /b")]
    #[case("")]
    #[case("frob")]
    #[case("wrap --")]
    #[case("wrap --mounts")]
    #[case("wrap --wait-tracer ten -- x")]
    #[case("wrap --facts caps -- x")]
    #[case("wrap --bogus -- x")]
    #[case("attach")]
    #[case("attach --pid")]
    #[case("attach --pid 1 --bogus")]
    fn rejects_bad_arguments(#[case] line: &str) {
        let a = if line.is_empty() { vec![] } else { args(line) };
        assert!(parse(a).is_err(), "{line:?}");
    }
}
