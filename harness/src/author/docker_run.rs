//! `parity import docker-run`: a scenario from a `docker run` command line.
//!
//! Owns the `docker run` flags (every flag of Docker 28's `docker run`, by
//! long and short name, `--flag value`, `--flag=value` and clusters such
//! as `-it`) and their mapping to the scenario format's Compose-named
//! container options. A flag parity does not know is an error naming it;
//! a flag the format cannot express is an error naming it and why; a flag
//! that does not change what the workload does (`--rm`, `-d`, `-t`,
//! `--name`) is dropped with a note saying why. The scenario text and
//! [`Imported`] are `author::import`'s. Pure but for writing the file.

use std::path::Path;

use crate::author::import::{
    ImportError, Imported, Mount, MountParts, Origin, absolute, import_id, mount_from_parts,
    rebase_binds, scenario_text, shell_line, shorten, split_words, written,
};
use crate::author::scaffold;
use crate::load::container::{ContainerSpec, parse_size};
use crate::load::service::ImageRef;

/// Whether a flag takes a value (`--user 1000`) or is a switch (`--rm`).
#[derive(Clone, Copy, PartialEq, Eq)]
enum Takes {
    Value,
    Switch,
}

use Takes::{Switch, Value};

/// Every flag of `docker run` (Docker 28): long name, short name, kind.
const FLAGS: &[(&str, Option<char>, Takes)] = &[
    ("add-host", None, Value),
    ("annotation", None, Value),
    ("attach", Some('a'), Value),
    ("blkio-weight", None, Value),
    ("blkio-weight-device", None, Value),
    ("cap-add", None, Value),
    ("cap-drop", None, Value),
    ("cgroup-parent", None, Value),
    ("cgroupns", None, Value),
    ("cidfile", None, Value),
    ("cpu-count", None, Value),
    ("cpu-percent", None, Value),
    ("cpu-period", None, Value),
    ("cpu-quota", None, Value),
    ("cpu-rt-period", None, Value),
    ("cpu-rt-runtime", None, Value),
    ("cpu-shares", Some('c'), Value),
    ("cpus", None, Value),
    ("cpuset-cpus", None, Value),
    ("cpuset-mems", None, Value),
    ("detach", Some('d'), Switch),
    ("detach-keys", None, Value),
    ("device", None, Value),
    ("device-cgroup-rule", None, Value),
    ("device-read-bps", None, Value),
    ("device-read-iops", None, Value),
    ("device-write-bps", None, Value),
    ("device-write-iops", None, Value),
    ("disable-content-trust", None, Switch),
    ("dns", None, Value),
    ("dns-option", None, Value),
    ("dns-search", None, Value),
    ("domainname", None, Value),
    ("entrypoint", None, Value),
    ("env", Some('e'), Value),
    ("env-file", None, Value),
    ("expose", None, Value),
    ("gpus", None, Value),
    ("group-add", None, Value),
    ("health-cmd", None, Value),
    ("health-interval", None, Value),
    ("health-retries", None, Value),
    ("health-start-interval", None, Value),
    ("health-start-period", None, Value),
    ("health-timeout", None, Value),
    ("help", None, Switch),
    ("hostname", Some('h'), Value),
    ("init", None, Switch),
    ("interactive", Some('i'), Switch),
    ("io-maxbandwidth", None, Value),
    ("io-maxiops", None, Value),
    ("ip", None, Value),
    ("ip6", None, Value),
    ("ipc", None, Value),
    ("isolation", None, Value),
    ("kernel-memory", None, Value),
    ("label", Some('l'), Value),
    ("label-file", None, Value),
    ("link", None, Value),
    ("link-local-ip", None, Value),
    ("log-driver", None, Value),
    ("log-opt", None, Value),
    ("mac-address", None, Value),
    ("memory", Some('m'), Value),
    ("memory-reservation", None, Value),
    ("memory-swap", None, Value),
    ("memory-swappiness", None, Value),
    ("mount", None, Value),
    ("name", None, Value),
    ("net", None, Value),
    ("net-alias", None, Value),
    ("network", None, Value),
    ("network-alias", None, Value),
    ("no-healthcheck", None, Switch),
    ("oom-kill-disable", None, Switch),
    ("oom-score-adj", None, Value),
    ("pid", None, Value),
    ("pids-limit", None, Value),
    ("platform", None, Value),
    ("privileged", None, Switch),
    ("publish", Some('p'), Value),
    ("publish-all", Some('P'), Switch),
    ("pull", None, Value),
    ("quiet", Some('q'), Switch),
    ("read-only", None, Switch),
    ("restart", None, Value),
    ("rm", None, Switch),
    ("runtime", None, Value),
    ("security-opt", None, Value),
    ("shm-size", None, Value),
    ("sig-proxy", None, Switch),
    ("stop-signal", None, Value),
    ("stop-timeout", None, Value),
    ("storage-opt", None, Value),
    ("sysctl", None, Value),
    ("tmpfs", None, Value),
    ("tty", Some('t'), Switch),
    ("ulimit", None, Value),
    ("use-api-socket", None, Switch),
    ("user", Some('u'), Value),
    ("userns", None, Value),
    ("uts", None, Value),
    ("volume", Some('v'), Value),
    ("volume-driver", None, Value),
    ("volumes-from", None, Value),
    ("workdir", Some('w'), Value),
];

fn by_long(name: &str) -> Option<Takes> {
    FLAGS.iter().find(|f| f.0 == name).map(|f| f.2)
}

fn by_short(c: char) -> Option<(&'static str, Takes)> {
    FLAGS.iter().find(|f| f.1 == Some(c)).map(|f| (f.0, f.2))
}

/// One flag as written: its long name (`--cap-add` for `--cap-add`), the
/// spelling the user typed (for messages) and its value (`None` for a
/// switch written without `=`).
struct Flag {
    name: &'static str,
    shown: String,
    value: Option<String>,
}

/// Reads `docker run [FLAGS] IMAGE [COMMAND...]` (with or without the
/// leading `docker`, also `docker container run`).
/// A line given as one argument (`-- "docker run ..."`) is split as a
/// shell would.
pub fn parse_docker_run(argv: &[String]) -> Result<Imported, ImportError> {
    let split;
    let argv = match argv {
        [one] if one.trim_start().starts_with("docker ") => {
            split = split_words(one).map_err(ImportError::NotDockerRun)?;
            &split[..]
        }
        _ => argv,
    };
    let rest = strip_docker_run(argv)?;
    let mut flags = Vec::new();
    let mut i = 0;
    while i < rest.len() {
        let tok = &rest[i];
        i += 1;
        if tok == "--" {
            break;
        }
        if let Some(long) = tok.strip_prefix("--") {
            let (name, inline) = match long.split_once('=') {
                Some((n, v)) => (n, Some(v.to_string())),
                None => (long, None),
            };
            let takes =
                by_long(name).ok_or_else(|| ImportError::UnknownFlag(format!("--{name}")))?;
            let name = FLAGS
                .iter()
                .find(|f| f.0 == name)
                .map(|f| f.0)
                .unwrap_or("");
            let shown = format!("--{name}");
            let value = match (takes, inline) {
                (Value, None) => Some(next_value(rest, &mut i, &shown)?),
                (_, v) => v,
            };
            flags.push(Flag { name, shown, value });
        } else if tok.len() > 1 && tok.starts_with('-') {
            let cluster: Vec<char> = tok[1..].chars().collect();
            let mut j = 0;
            while j < cluster.len() {
                let c = cluster[j];
                j += 1;
                let (name, takes) =
                    by_short(c).ok_or_else(|| ImportError::UnknownFlag(format!("-{c}")))?;
                let shown = format!("-{c}");
                let value = match takes {
                    Switch => None,
                    Value if j < cluster.len() => {
                        let v: String = cluster[j..].iter().collect();
                        j = cluster.len();
                        Some(v.strip_prefix('=').map(str::to_string).unwrap_or(v))
                    }
                    Value => Some(next_value(rest, &mut i, &shown)?),
                };
                flags.push(Flag { name, shown, value });
            }
        } else {
            i -= 1;
            break;
        }
    }
    let image = rest.get(i).ok_or(ImportError::NoImage)?.clone();
    let command = rest[i + 1..].to_vec();
    if command.is_empty() {
        return Err(ImportError::NoCommand(image));
    }
    let mut out = Imported {
        image: ImageRef::Name(image),
        command,
        container: ContainerSpec::default(),
        notes: Vec::new(),
    };
    for flag in flags {
        apply(&mut out, flag)?;
    }
    if out.container.network_mode.is_none() {
        out.notes.push(
            "no --network: parity runs it with network_mode none (docker run's default is bridge); add --network bridge for a network".into(),
        );
    }
    Ok(out)
}

fn strip_docker_run(argv: &[String]) -> Result<&[String], ImportError> {
    let mut rest = argv;
    if rest
        .first()
        .is_some_and(|a| a == "docker" || a.ends_with("/docker"))
    {
        rest = &rest[1..];
    }
    if rest.first().is_some_and(|a| a == "container") {
        rest = &rest[1..];
    }
    match rest.first() {
        Some(run) if run == "run" => Ok(&rest[1..]),
        Some(other) => Err(ImportError::NotDockerRun(format!(
            "expected `docker run`, found `{other}` (docker's own flags such as -H go in DOCKER_HOST or a runtime profile)"
        ))),
        None => Err(ImportError::NotDockerRun(
            "empty; write it after `--`: parity import docker-run NAME -- docker run ...".into(),
        )),
    }
}

fn next_value(rest: &[String], i: &mut usize, shown: &str) -> Result<String, ImportError> {
    let v = rest
        .get(*i)
        .ok_or_else(|| ImportError::MissingValue(shown.to_string()))?;
    *i += 1;
    Ok(v.clone())
}

/// A switch's value: `--rm`, `--rm=true`, `--rm=false`.
fn switch(flag: &Flag) -> Result<bool, ImportError> {
    match flag.value.as_deref() {
        None | Some("true") | Some("1") => Ok(true),
        Some("false") | Some("0") => Ok(false),
        Some(v) => Err(bad(flag, v, "expected true or false")),
    }
}

fn bad(flag: &Flag, value: &str, why: &str) -> ImportError {
    ImportError::BadValue {
        flag: flag.shown.clone(),
        value: value.to_string(),
        why: why.to_string(),
    }
}

fn unsupported(shown: &str, why: &str) -> ImportError {
    ImportError::Unsupported {
        flag: shown.to_string(),
        why: why.to_string(),
    }
}

/// Why a `docker run` flag has no scenario equivalent, for the flags that
/// have none.
fn cannot_express(name: &str) -> Option<&'static str> {
    Some(match name {
        "cpus" | "cpu-count" | "cpu-percent" | "cpu-period" | "cpu-quota" | "cpu-rt-period"
        | "cpu-rt-runtime" | "cpu-shares" | "cpuset-cpus" | "cpuset-mems" => {
            "the scenario format has no CPU limits (only mem_limit, pids_limit and shm_size)"
        }
        "blkio-weight"
        | "blkio-weight-device"
        | "device-read-bps"
        | "device-read-iops"
        | "device-write-bps"
        | "device-write-iops"
        | "io-maxbandwidth"
        | "io-maxiops" => "the scenario format has no block I/O limits",
        "memory-reservation" | "memory-swap" | "memory-swappiness" | "kernel-memory"
        | "oom-kill-disable" | "oom-score-adj" => {
            "the scenario format has only mem_limit among memory settings"
        }
        "ulimit" => "the scenario format has no ulimits",
        "group-add" => "the scenario format has no group_add; give the groups in --user UID:GID",
        "device-cgroup-rule" => "the scenario format has no device cgroup rules (only devices)",
        "gpus" => "the scenario format has no GPU requests",
        "env-file" => {
            "parity does not read files next to the command line; write each variable as -e KEY=VALUE"
        }
        "add-host" | "dns" | "dns-option" | "dns-search" | "domainname" | "ip" | "ip6"
        | "mac-address" | "link" | "link-local-ip" | "network-alias" | "net-alias" => {
            "the scenario format has no network settings beyond network_mode"
        }
        "volumes-from" => "a scenario runs one container; there is no other to take volumes from",
        "volume-driver" => "the scenario format has no volume drivers (volumes are local)",
        "storage-opt" => "the scenario format has no storage options",
        "cgroup-parent" => "parity places containers in the engine's default cgroup",
        "isolation" => "isolation is a Windows engine setting",
        "platform" => "parity runs images of the engine's own platform",
        "use-api-socket" => {
            "write the docker.sock bind mount as -v /var/run/docker.sock:/var/run/docker.sock"
        }
        "runtime" => {
            "parity chooses the runtime of each side (--baseline, --candidate); drop it and compare runtimes instead"
        }
        "help" => "--help prints docker's usage; it runs nothing",
        _ => return None,
    })
}

/// Why a `docker run` flag is dropped: it does not change what the
/// workload does, or parity decides it for every container.
fn dropped(name: &str) -> Option<&'static str> {
    Some(match name {
        "rm" => "parity always removes its containers",
        "detach" => "parity waits for the workload and reads its output live",
        "interactive" | "attach" | "detach-keys" | "sig-proxy" => {
            "parity gives the workload no stdin and attaches to stdout and stderr itself"
        }
        "tty" => "parity keeps the tty off so that stdout and stderr stay apart",
        "name" => "parity names its containers parity-<run>-<n>",
        "label" | "label-file" | "annotation" => {
            "parity labels its containers itself; labels do not change what the workload does"
        }
        "cidfile" => "parity keeps the container id itself",
        "log-driver" | "log-opt" => "parity reads the output live and keeps no engine log",
        "restart" => "a scenario runs its workload once",
        "publish" | "publish-all" | "expose" => {
            "published ports do not change what the workload does inside the container"
        }
        "pull" | "quiet" | "disable-content-trust" => {
            "parity uses the image already in each engine (or builds it)"
        }
        "health-cmd"
        | "health-interval"
        | "health-retries"
        | "health-start-interval"
        | "health-start-period"
        | "health-timeout"
        | "no-healthcheck" => {
            "healthchecks are not run; a service scenario says when it is up with `ready:`"
        }
        "stop-signal" | "stop-timeout" => {
            "parity kills the container at its timeout; the stop signal is not used"
        }
        _ => return None,
    })
}

fn apply(out: &mut Imported, flag: Flag) -> Result<(), ImportError> {
    if let Some(why) = cannot_express(flag.name) {
        return Err(unsupported(&flag.shown, why));
    }
    if let Some(why) = dropped(flag.name) {
        let shown = match &flag.value {
            Some(v) if by_long(flag.name) == Some(Value) => format!("{} {v}", flag.shown),
            _ => flag.shown.clone(),
        };
        out.notes.push(format!("{shown}: dropped: {why}"));
        return Ok(());
    }
    let c = &mut out.container;
    let value = flag.value.clone().unwrap_or_default();
    match flag.name {
        "cap-add" => c.cap_add.push(value),
        "cap-drop" => c.cap_drop.push(value),
        "security-opt" => c.security_opt.push(security_opt(&flag, &value)?),
        "device" => c.devices.push(value),
        "tmpfs" => c.tmpfs.push(tmpfs(&flag, &value)?),
        "volume" => c.volumes.push(volume(&flag, &value)?),
        "mount" => match mount(&flag.shown, &value)? {
            Mount::Volume(v) => c.volumes.push(v),
            Mount::Tmpfs(t) => c.tmpfs.push(t),
        },
        "env" => {
            let (k, v) = key_value(&flag, &value, true)?;
            c.environment.insert(k, v);
        }
        "sysctl" => {
            let (k, v) = key_value(&flag, &value, false)?;
            c.sysctls.insert(k, v);
        }
        "privileged" => c.privileged = Some(switch(&flag)?),
        "read-only" => c.read_only = Some(switch(&flag)?),
        "init" => c.init = Some(switch(&flag)?),
        "user" => c.user = Some(non_empty(&flag, value)?),
        "workdir" => c.working_dir = Some(non_empty(&flag, value)?),
        "hostname" => c.hostname = Some(non_empty(&flag, value)?),
        "entrypoint" => c.entrypoint = Some(vec![value]),
        "network" | "net" => c.network_mode = Some(non_empty(&flag, value)?),
        "pid" => c.pid = Some(non_empty(&flag, value)?),
        "ipc" => c.ipc = Some(non_empty(&flag, value)?),
        "uts" => c.uts = Some(non_empty(&flag, value)?),
        "userns" => c.userns_mode = Some(non_empty(&flag, value)?),
        "cgroupns" => match value.as_str() {
            "host" | "private" => c.cgroup = Some(value),
            _ => return Err(bad(&flag, &value, "expected host or private")),
        },
        "memory" => c.mem_limit = Some(size(&flag, value)?),
        "shm-size" => c.shm_size = Some(size(&flag, value)?),
        "pids-limit" => {
            let n = value
                .parse::<i64>()
                .map_err(|_| bad(&flag, &value, "expected a whole number (-1: no limit)"))?;
            c.pids_limit = Some(if n <= 0 { -1 } else { n });
        }
        other => {
            // Every name in FLAGS is handled above; a new one lands here.
            return Err(unsupported(
                &format!("--{other}"),
                "parity does not map it yet",
            ));
        }
    }
    Ok(())
}

fn non_empty(flag: &Flag, value: String) -> Result<String, ImportError> {
    match value.trim().is_empty() {
        true => Err(bad(flag, &value, "expected a value")),
        false => Ok(value),
    }
}

fn size(flag: &Flag, value: String) -> Result<String, ImportError> {
    match parse_size(&value) {
        Some(_) => Ok(value),
        None => Err(bad(flag, &value, "expected a size such as 64m or 1g")),
    }
}

/// `KEY=VALUE`; `-e KEY` alone takes the value from the calling shell,
/// which a scenario cannot do.
fn key_value(flag: &Flag, value: &str, env: bool) -> Result<(String, String), ImportError> {
    match value.split_once('=') {
        Some((k, v)) if !k.is_empty() => Ok((k.to_string(), v.to_string())),
        Some(_) => Err(bad(flag, value, "expected KEY=VALUE")),
        None if env => Err(ImportError::Unsupported {
            flag: format!("{} {value}", flag.shown),
            why: "without =VALUE docker takes the value from the calling shell; write KEY=VALUE"
                .into(),
        }),
        None => Err(bad(flag, value, "expected KEY=VALUE")),
    }
}

/// `seccomp=FILE` is read by the docker CLI, which sends the profile's
/// text; the scenario's security_opt goes to the engine as written.
fn security_opt(flag: &Flag, value: &str) -> Result<String, ImportError> {
    match value.split_once(['=', ':']) {
        Some(("seccomp", p)) if p != "unconfined" => Err(ImportError::Unsupported {
            flag: format!("{} {value}", flag.shown),
            why: "the docker CLI reads the seccomp profile file and sends its text; a scenario passes security_opt to the engine as written (only seccomp=unconfined)".into(),
        }),
        _ => Ok(value.to_string()),
    }
}

fn tmpfs(flag: &Flag, value: &str) -> Result<String, ImportError> {
    match value.starts_with('/') {
        true => Ok(value.to_string()),
        false => Err(bad(flag, value, "expected an absolute PATH[:OPTIONS]")),
    }
}

/// `-v SOURCE:TARGET[:MODE]` or `-v TARGET` (an anonymous volume).
fn volume(flag: &Flag, value: &str) -> Result<String, ImportError> {
    let parts: Vec<&str> = value.split(':').collect();
    let ok = match parts.as_slice() {
        [t] => t.starts_with('/'),
        [s, t] | [s, t, _] => !s.is_empty() && t.starts_with('/'),
        _ => false,
    };
    match ok {
        true => Ok(value.to_string()),
        false => Err(bad(
            flag,
            value,
            "expected SOURCE:/TARGET[:MODE] or /TARGET",
        )),
    }
}

/// `--mount type=bind,source=/a,target=/b,readonly`.
pub fn mount(shown: &str, value: &str) -> Result<Mount, ImportError> {
    let mut m = MountParts::default();
    let err = |why: String| ImportError::BadValue {
        flag: shown.to_string(),
        value: value.to_string(),
        why,
    };
    for field in value.split(',').filter(|f| !f.is_empty()) {
        let (k, v) = match field.split_once('=') {
            Some((k, v)) => (k, Some(v.to_string())),
            None => (field, None),
        };
        let truth = |v: &Option<String>| -> Result<bool, ImportError> {
            match v.as_deref() {
                None | Some("true") | Some("1") => Ok(true),
                Some("false") | Some("0") => Ok(false),
                Some(o) => Err(err(format!("{k}={o}: expected true or false"))),
            }
        };
        let need = |v: Option<String>| v.ok_or_else(|| err(format!("{k} needs a value")));
        match k {
            "type" => m.kind = Some(need(v)?),
            "source" | "src" => m.source = Some(need(v)?),
            "target" | "destination" | "dst" => m.target = Some(need(v)?),
            "readonly" | "ro" => m.read_only = truth(&v)?,
            "bind-propagation" => m.propagation = Some(need(v)?),
            "volume-nocopy" => m.nocopy = truth(&v)?,
            "tmpfs-size" => m.tmpfs_size = Some(need(v)?),
            "tmpfs-mode" => m.tmpfs_mode = Some(need(v)?),
            "consistency" => {}
            "volume-driver" | "volume-opt" | "volume-subpath" | "bind-recursive"
            | "bind-nonrecursive" | "bind-create-src" | "tmpfs-options" | "image-subpath" => {
                return Err(ImportError::Unsupported {
                    flag: format!("{shown} {k}"),
                    why: "the scenario format's volumes are SOURCE:TARGET[:MODE]".into(),
                });
            }
            other => return Err(err(format!("unknown mount option `{other}`"))),
        }
    }
    mount_from_parts(&m).map_err(err)
}

/// `parity import docker-run NAME -- docker run ...`: writes the scenario
/// under `scenarios_root` and says what was written, what was dropped and
/// what to do next.
pub fn command(
    scenarios_root: &Path,
    name: &str,
    argv: &[String],
    cwd: &Path,
) -> Result<String, ImportError> {
    let id = import_id(name)?;
    let mut imported = parse_docker_run(argv)?;
    let scenario_dir = absolute(&scenarios_root.join(&id), cwd);
    let scenario_dir = scenario_dir.parent().unwrap_or(cwd);
    rebase_binds(&mut imported.container, cwd, scenario_dir);
    let origin = Origin {
        how: "parity import docker-run",
        from: shell_line(argv),
        description: shorten(
            &format!(
                "Imported from docker run: {} {}",
                imported.image,
                shell_line(&imported.command)
            ),
            120,
        ),
    };
    let path = scaffold::write_new(scenarios_root, &id, &scenario_text(&id, &imported, &origin))?;
    Ok(written(&[(path, imported.notes)], cwd))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::load::scenario::ScenarioFile;
    use rstest::rstest;
    use std::collections::BTreeMap;

    fn argv(line: &str) -> Vec<String> {
        line.split_whitespace().map(str::to_string).collect()
    }

    fn parse(line: &str) -> Result<Imported, ImportError> {
        parse_docker_run(&argv(line))
    }

    fn spec(line: &str) -> ContainerSpec {
        parse(line).unwrap().container
    }

    /// The scenario text, read back by the project's loader.
    fn round_trip(imported: &Imported) -> ScenarioFile {
        let origin = Origin {
            how: "test",
            from: "docker run 'x\ny'".into(),
            description: "d: \"quoted\" # not a comment".into(),
        };
        let text = scenario_text("area/name", imported, &origin);
        crate::load::yaml::from_str(Path::new("area/name.yaml"), &text)
            .unwrap_or_else(|e| panic!("{e}\n{text}"))
    }

    #[test]
    fn a_build_image_round_trips() {
        let mut imported = parse("run x true").unwrap();
        imported.image = ImageRef::Build("../../app".into());
        assert_eq!(round_trip(&imported).image, imported.image);
    }

    #[test]
    fn the_issue_line_maps_every_flag() {
        let i = parse(
            "docker run --rm --cap-add NET_ADMIN --read-only --tmpfs /scratch:size=1m,mode=1777 \
             -e GREETING=hi -u 1000:1000 --security-opt no-new-privileges busybox:latest id -u",
        )
        .unwrap();
        assert_eq!(i.image, ImageRef::Name("busybox:latest".into()));
        assert_eq!(i.command, vec!["id", "-u"]);
        let c = &i.container;
        assert_eq!(c.cap_add, vec!["NET_ADMIN"]);
        assert_eq!(c.read_only, Some(true));
        assert_eq!(c.tmpfs, vec!["/scratch:size=1m,mode=1777"]);
        assert_eq!(c.environment["GREETING"], "hi");
        assert_eq!(c.user.as_deref(), Some("1000:1000"));
        assert_eq!(c.security_opt, vec!["no-new-privileges"]);
        assert!(i.notes.iter().any(|n| n.starts_with("--rm: dropped")));
    }

    #[rstest]
    #[case("run --cap-drop=ALL x true", "cap_drop", "[\"ALL\"]")]
    #[case(
        "run --env A=1 -eB=2 x true",
        "environment",
        "{\"A\":\"1\",\"B\":\"2\"}"
    )]
    #[case("run -e A==b x true", "environment", "{\"A\":\"=b\"}")]
    #[case("run --user=nobody x true", "user", "\"nobody\"")]
    #[case("run -w /tmp x true", "working_dir", "\"/tmp\"")]
    #[case("run --workdir=/srv x true", "working_dir", "\"/srv\"")]
    #[case("run --entrypoint /bin/sh x -c true", "entrypoint", "[\"/bin/sh\"]")]
    #[case("run --privileged x true", "privileged", "true")]
    #[case("run --privileged=false x true", "privileged", "false")]
    #[case("run --device /dev/fuse x true", "devices", "[\"/dev/fuse\"]")]
    #[case(
        "run --device=/dev/null:/dev/n:r x true",
        "devices",
        "[\"/dev/null:/dev/n:r\"]"
    )]
    #[case("run -v /srv:/data:ro x true", "volumes", "[\"/srv:/data:ro\"]")]
    #[case("run --volume cache:/cache x true", "volumes", "[\"cache:/cache\"]")]
    #[case("run -v /anon x true", "volumes", "[\"/anon\"]")]
    #[case(
        "run --mount type=bind,source=/srv,target=/data,readonly x true",
        "volumes",
        "[\"/srv:/data:ro\"]"
    )]
    #[case(
        "run --mount type=volume,src=v,dst=/v,volume-nocopy x true",
        "volumes",
        "[\"v:/v:nocopy\"]"
    )]
    #[case("run --mount target=/anon x true", "volumes", "[\"/anon\"]")]
    #[case(
        "run --mount type=tmpfs,destination=/t,tmpfs-size=1m,tmpfs-mode=1777 x true",
        "tmpfs",
        "[\"/t:size=1m,mode=1777\"]"
    )]
    #[case("run --tmpfs /run x true", "tmpfs", "[\"/run\"]")]
    #[case("run --network host x true", "network_mode", "\"host\"")]
    #[case("run --net=bridge x true", "network_mode", "\"bridge\"")]
    #[case("run --pid=host x true", "pid", "\"host\"")]
    #[case("run --ipc private x true", "ipc", "\"private\"")]
    #[case("run --uts=host x true", "uts", "\"host\"")]
    #[case("run --userns=host x true", "userns_mode", "\"host\"")]
    #[case("run --cgroupns private x true", "cgroup", "\"private\"")]
    #[case(
        "run --sysctl net.ipv4.ip_forward=1 x true",
        "sysctls",
        "{\"net.ipv4.ip_forward\":\"1\"}"
    )]
    #[case("run --pids-limit 64 x true", "pids_limit", "64")]
    #[case("run --pids-limit=-1 x true", "pids_limit", "-1")]
    #[case("run -m 16m x true", "mem_limit", "\"16m\"")]
    #[case("run --memory=1g x true", "mem_limit", "\"1g\"")]
    #[case("run --shm-size 64m x true", "shm_size", "\"64m\"")]
    #[case("run -h box x true", "hostname", "\"box\"")]
    #[case("run --hostname=box x true", "hostname", "\"box\"")]
    #[case("run --init x true", "init", "true")]
    #[case("run --read-only=true x true", "read_only", "true")]
    #[case(
        "run --security-opt seccomp=unconfined x true",
        "security_opt",
        "[\"seccomp=unconfined\"]"
    )]
    #[case(
        "run --security-opt apparmor=unconfined --security-opt label=disable x true",
        "security_opt",
        "[\"apparmor=unconfined\",\"label=disable\"]"
    )]
    fn flags_map_to_compose_names(#[case] line: &str, #[case] key: &str, #[case] want: &str) {
        let c = spec(line);
        let value = serde_json::to_value(&c).unwrap();
        assert_eq!(value[key].to_string(), want, "{line}: {value}");
        // Nothing else was set.
        assert_eq!(value.as_object().unwrap().len(), 1, "{line}: {value}");
    }

    #[rstest]
    #[case("run -it x true", 2)]
    #[case("run -i -t x true", 2)]
    #[case("run -dit x true", 3)]
    #[case("run --rm --name web --label a=b -l c=d --restart=always x true", 5)]
    #[case("run -p 80:80 -P --expose 80 x true", 3)]
    #[case("run --pull never -q --log-driver none --cidfile /tmp/c x true", 4)]
    #[case("run --health-cmd true --no-healthcheck --stop-signal KILL x true", 3)]
    fn dropped_flags_set_nothing_and_say_why(#[case] line: &str, #[case] dropped: usize) {
        let i = parse(line).unwrap();
        assert_eq!(i.container, ContainerSpec::default(), "{line}");
        // One note per dropped flag, then the network note.
        assert_eq!(i.notes.len(), dropped + 1, "{line}: {:?}", i.notes);
        assert!(
            i.notes[..dropped].iter().all(|n| n.contains(": dropped: ")),
            "{:?}",
            i.notes
        );
    }

    #[test]
    fn short_clusters_take_a_trailing_value() {
        let c = spec("run -itu1000 -eA=1 -v/a:/b x true");
        assert_eq!(c.user.as_deref(), Some("1000"));
        assert_eq!(c.environment["A"], "1");
        assert_eq!(c.volumes, vec!["/a:/b"]);
        let c = spec("run -tu 1000 x true");
        assert_eq!(c.user.as_deref(), Some("1000"));
    }

    #[test]
    fn the_command_keeps_its_own_flags() {
        let i = parse("docker container run -u 1 busybox sh -c -u --rm").unwrap();
        assert_eq!(i.command, vec!["sh", "-c", "-u", "--rm"]);
        assert_eq!(i.container.user.as_deref(), Some("1"));
        let i = parse("run -u 1 -- busybox -x").unwrap();
        assert_eq!(i.image, ImageRef::Name("busybox".into()));
        assert_eq!(i.command, vec!["-x"]);
        let i = parse("/usr/bin/docker run busybox true").unwrap();
        assert_eq!(i.command, vec!["true"]);
    }

    #[test]
    fn a_line_in_one_argument_is_split_like_a_shell() {
        let one = vec!["docker run --rm -e 'A=x y' busybox sh -c 'echo \"hi\"'".to_string()];
        let i = parse_docker_run(&one).unwrap();
        assert_eq!(i.container.environment["A"], "x y");
        assert_eq!(i.command, vec!["sh", "-c", "echo \"hi\""]);
        let open = vec!["docker run busybox sh -c 'oops".to_string()];
        let err = parse_docker_run(&open).unwrap_err().to_string();
        assert!(err.contains("not closed"), "{err}");
    }

    #[test]
    fn a_network_given_drops_the_network_note() {
        let i = parse("run --network none x true").unwrap();
        assert!(i.notes.is_empty(), "{:?}", i.notes);
        let i = parse("run x true").unwrap();
        assert!(i.notes[0].contains("network_mode none"), "{:?}", i.notes);
    }

    #[rstest]
    #[case("run --cap-ad NET_ADMIN x true", "unknown docker run flag `--cap-ad`")]
    #[case("run -Z x true", "unknown docker run flag `-Z`")]
    #[case("run -itZ x true", "unknown docker run flag `-Z`")]
    #[case("run --bogus=1 x true", "unknown docker run flag `--bogus`")]
    #[case("run --cpus 2 x true", "`--cpus` cannot be expressed")]
    #[case("run --ulimit nofile=10 x true", "`--ulimit` cannot be expressed")]
    #[case("run --group-add 10 x true", "`--group-add` cannot be expressed")]
    #[case("run -c 512 x true", "`-c` cannot be expressed")]
    #[case("run --runtime sysbox-runc x true", "parity chooses the runtime")]
    #[case("run --env-file f x true", "`--env-file` cannot be expressed")]
    #[case("run --dns 1.1.1.1 x true", "no network settings")]
    #[case("run -e HOME x true", "`-e HOME` cannot be expressed")]
    #[case(
        "run --security-opt seccomp=p.json x true",
        "reads the seccomp profile"
    )]
    #[case(
        "run --security-opt seccomp:p.json x true",
        "reads the seccomp profile"
    )]
    #[case("run --user", "`--user` needs a value")]
    #[case("run -u", "`-u` needs a value")]
    #[case("run --memory lots x true", "64m")]
    #[case("run --pids-limit many x true", "whole number")]
    #[case("run --cgroupns=shared x true", "host or private")]
    #[case("run --sysctl kernel.x x true", "KEY=VALUE")]
    #[case("run -e =x x true", "KEY=VALUE")]
    #[case("run --read-only=maybe x true", "true or false")]
    #[case("run --tmpfs run x true", "absolute")]
    #[case("run -v data x true", "SOURCE:/TARGET")]
    #[case("run -v a:b:c:d x true", "SOURCE:/TARGET")]
    #[case("run --mount type=bind,target=/x x true", "needs a source")]
    #[case("run --mount type=bind,src=data,target=/x x true", "volume name")]
    #[case("run --mount type=volume,src=/d,target=/x x true", "host path")]
    #[case(
        "run --mount type=npipe,src=a,target=/x x true",
        "bind, volume and tmpfs"
    )]
    #[case("run --mount type=bind,src=/a,target=/x,colour=red x true", "`colour`")]
    #[case("run --mount src=/a x true", "needs a target")]
    #[case("run --mount target=/x,readonly x true", "anonymous volume")]
    #[case(
        "run --mount type=volume,volume-driver=nfs,target=/x x true",
        "volume-driver"
    )]
    #[case("run", "no image")]
    #[case("run --rm", "no image")]
    #[case("run busybox", "no command after the image busybox")]
    #[case("docker ps", "expected `docker run`, found `ps`")]
    #[case("docker -H tcp://x run busybox true", "found `-H`")]
    #[case("", "empty")]
    fn errors_name_the_flag_and_why(#[case] line: &str, #[case] needle: &str) {
        let err = parse(line).unwrap_err().to_string();
        assert!(err.contains(needle), "{line}: {err}");
    }

    #[test]
    fn every_flag_is_mapped_refused_or_dropped() {
        for (name, _, takes) in FLAGS {
            let flag = match takes {
                Value => format!("--{name}=/v:/w"),
                Switch => format!("--{name}"),
            };
            let err = match parse_docker_run(&argv(&format!("run {flag} x true"))) {
                Ok(_) => continue,
                Err(e) => e.to_string(),
            };
            assert!(!err.contains("does not map it yet"), "{name}: {err}");
            assert!(!err.contains("unknown docker run flag"), "{name}: {err}");
        }
    }

    #[rstest]
    #[case(
        "docker run --rm --cap-add NET_ADMIN --read-only --tmpfs /scratch:size=1m -e A=1 -u 1000 \
         --security-opt no-new-privileges busybox:latest sh -c true"
    )]
    #[case(
        "run --privileged --device /dev/fuse -v /srv:/d:ro --mount type=tmpfs,dst=/t,tmpfs-size=1m \
         --network host --pid host --ipc host --uts host --userns host --cgroupns host \
         --sysctl net.core.somaxconn=1024 --pids-limit 10 -m 16m --shm-size 8m -h h --init \
         -w /w --entrypoint /bin/sh --cap-drop ALL x -c true"
    )]
    #[case("run -e 'QUOTE=a\"b' -e COLON=a:b -e HASH=#x -e EMPTY= x echo yes: no")]
    fn scenario_text_round_trips_through_the_loader(#[case] line: &str) {
        let imported = parse(line).unwrap();
        let file = round_trip(&imported);
        assert_eq!(file.container, imported.container);
        assert_eq!(file.image, imported.image);
        assert_eq!(file.command, imported.command);
        assert!(file.description.contains("quoted"));
    }

    #[test]
    fn odd_strings_round_trip() {
        let mut imported = parse("run x true").unwrap();
        imported.command = vec![
            "sh".into(),
            "-c".into(),
            "echo 'a' \"b\" \\ $HOME # c\n{d}: [e], *f &g !h %i @j `k`\ttab é".into(),
        ];
        imported.container.environment =
            BTreeMap::from([("A".into(), "yes".into()), ("B".into(), "null".into())]);
        imported.container.hostname = Some("0x10".into());
        let file = round_trip(&imported);
        assert_eq!(file.command, imported.command);
        assert_eq!(file.container, imported.container);
    }

    fn docker_run_command_in(root: &Path, id: &str, line: &[String], cwd: &Path) {
        command(root, id, line, cwd).unwrap();
    }

    #[test]
    fn the_written_file_lints_clean_and_is_never_overwritten() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../target")
            .join(format!("parity-import-unit-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let root = dir.join("scenarios");
        let line = argv(
            "docker run --rm -it --cap-add SYS_ADMIN --tmpfs /t -e A=1 busybox:latest sh -c true",
        );
        let text = command(&root, "caps/admin", &line, &dir).unwrap();
        assert!(
            text.starts_with("created scenarios/caps/admin.yaml\n"),
            "{text}"
        );
        assert!(text.contains("note: --rm: dropped"), "{text}");
        let path = root.join("caps/admin.yaml");
        let scenario = crate::load::scenario::Scenario::load(&root, &path).unwrap();
        assert_eq!(scenario.id, "caps/admin");
        assert_eq!(scenario.file.container.cap_add, vec!["SYS_ADMIN"]);
        let profiles = crate::load::runtime::Profiles::built_in().unwrap();
        let findings = crate::author::lint::lint_paths(std::slice::from_ref(&root), &profiles);
        assert!(findings.is_empty(), "{findings:?}");
        let before = std::fs::read_to_string(&path).unwrap();
        // A relative bind source (docker resolves it from the current
        // folder) is rewritten from the scenario's folder.
        let line = argv("docker run -v ./data:/data:ro busybox:latest true");
        docker_run_command_in(&root, "caps/bind", &line, &dir);
        let bind =
            crate::load::scenario::Scenario::load(&root, &root.join("caps/bind.yaml")).unwrap();
        assert_eq!(bind.file.container.volumes, vec!["../../data:/data:ro"]);
        let again = command(&root, "caps/admin", &argv("run x true"), &dir);
        assert!(
            matches!(
                again,
                Err(ImportError::Scaffold(scaffold::ScaffoldError::Exists(_)))
            ),
            "{again:?}"
        );
        assert_eq!(std::fs::read_to_string(&path).unwrap(), before);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
