//! `parity import compose`: one scenario per service of a Compose file.
//!
//! Owns reading a Compose file with the project's YAML loader (so every
//! error names the file, line and column): the service keys the scenario
//! format shares with Compose are taken as they are, the keys that do not
//! change what a workload does (`ports`, `restart`, `depends_on`, ...) are
//! dropped with a note, and a key the format cannot express or parity does
//! not know is a located error naming it. Relative paths (`build`, bind
//! sources) are rewritten to stay right from the scenario's folder.
//! The value forms are `author::compose_values`' (no interpolation:
//! `${VAR}` is an error); the scenario text is `author::import`'s. The
//! file must also be valid Compose per the specification
//! (`load::compose::check_spec`), including the keys dropped here.

use std::fmt;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use serde::de::{self, Deserializer, IgnoredAny, MapAccess, Visitor};

use crate::author::compose_values::{
    Build, Checked, Each, OneOrMany, Pairs, Refuse, Text, Volume, Words,
};
use crate::author::import::{
    self, ImportError, Imported, Mount, Origin, absolute, rebase_binds, relative,
};
use crate::author::scaffold;
use crate::load::container::{ContainerSpec, parse_size};
use crate::load::service::ImageRef;

/// A Compose file as parity reads it.
#[derive(Debug)]
pub struct ComposeFile {
    /// The top-level `name`, if any.
    pub name: Option<String>,
    /// The services, in file order.
    pub services: Vec<(String, Service)>,
}

/// One service of a Compose file.
#[derive(Debug, Default)]
pub struct Service {
    pub image: Option<String>,
    /// The build context, as written (relative to the Compose file).
    pub build: Option<String>,
    pub command: Option<Vec<String>>,
    pub container: ContainerSpec,
    /// Keys read but dropped, each with the reason.
    pub notes: Vec<String>,
}

/// Why a Compose service key has no scenario equivalent.
fn cannot_express(key: &str) -> Option<&'static str> {
    Some(match key {
        "cpus" | "cpu_count" | "cpu_percent" | "cpu_shares" | "cpu_period" | "cpu_quota"
        | "cpu_rt_runtime" | "cpu_rt_period" | "cpuset" => {
            "the scenario format has no CPU limits (only mem_limit, pids_limit and shm_size)"
        }
        "mem_reservation" | "memswap_limit" | "mem_swappiness" | "oom_kill_disable"
        | "oom_score_adj" => "the scenario format has only mem_limit among memory settings",
        "blkio_config" => "the scenario format has no block I/O limits",
        "ulimits" => "the scenario format has no ulimits",
        "group_add" => "the scenario format has no group_add; give the groups in user: UID:GID",
        "device_cgroup_rules" => "the scenario format has no device cgroup rules (only devices)",
        "gpus" => "the scenario format has no GPU requests",
        "env_file" | "label_file" => {
            "parity does not read files next to the Compose file; write the variables under environment"
        }
        "extra_hosts" | "dns" | "dns_opt" | "dns_search" | "domainname" | "mac_address"
        | "links" | "external_links" => {
            "the scenario format has no network settings beyond network_mode"
        }
        "volumes_from" => "a scenario runs one container; there is no other to take volumes from",
        "secrets" | "configs" => "the scenario format has no secrets or configs; use volumes",
        "deploy" | "develop" | "scale" => {
            "the scenario format has no deploy settings (resources: mem_limit, pids_limit)"
        }
        "extends" | "include" => {
            "parity reads one Compose file; merge it first (docker compose config)"
        }
        "cgroup_parent" => "parity places containers in the engine's default cgroup",
        "isolation" => "isolation is a Windows engine setting",
        "platform" => "parity runs images of the engine's own platform",
        "storage_opt" => "the scenario format has no storage options",
        "credential_spec" => "credential specs are a Windows engine setting",
        "post_start" | "pre_stop" => "a scenario runs one command; there are no lifecycle hooks",
        "use_api_socket" => "write the docker.sock bind mount under volumes",
        "runtime" => {
            "parity chooses the runtime of each side (--baseline, --candidate); drop it and compare runtimes instead"
        }
        _ => return None,
    })
}

/// Why a Compose service key is dropped.
fn dropped(key: &str) -> Option<&'static str> {
    Some(match key {
        "container_name" => "parity names its containers parity-<run>-<n>",
        "restart" => "a scenario runs its workload once",
        "depends_on" => "a scenario runs one container; start what it needs inside it",
        "labels" | "annotations" => {
            "parity labels its containers itself; labels do not change what the workload does"
        }
        "ports" | "expose" => {
            "published ports do not change what the workload does inside the container"
        }
        "networks" => {
            "Compose networks are not created; the container gets network_mode (parity's default: none)"
        }
        "healthcheck" => {
            "healthchecks are not run; a service scenario says when it is up with `ready:`"
        }
        "stdin_open" | "attach" => "parity gives the workload no stdin",
        "tty" => "parity keeps the tty off so that stdout and stderr stay apart",
        "logging" => "parity reads the output live and keeps no engine log",
        "stop_signal" | "stop_grace_period" => {
            "parity kills the container at its timeout; the stop signal is not used"
        }
        "profiles" => "every service named is imported",
        "pull_policy" => "parity uses the image already in each engine (or builds it)",
        _ => return None,
    })
}

impl<'de> Deserialize<'de> for ComposeFile {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = ComposeFile;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a Compose file (a map with `services:`)")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<ComposeFile, A::Error> {
                let (mut name, mut services) = (None, None);
                while let Some(key) = map.next_key::<String>()? {
                    match key.as_str() {
                        "services" => services = Some(map.next_value::<Services>()?.0),
                        "name" => name = Some(map.next_value::<Text>()?.0),
                        "version" | "networks" | "volumes" | "configs" | "secrets" => {
                            map.next_value::<IgnoredAny>()?;
                        }
                        k if k.starts_with("x-") => {
                            map.next_value::<IgnoredAny>()?;
                        }
                        "include" => {
                            return Err(de::Error::custom(
                                "`include` cannot be imported: parity reads one Compose file; merge it first (docker compose config)",
                            ));
                        }
                        other => {
                            return Err(de::Error::custom(format!(
                                "unknown Compose key `{other}` at the top level (expected services, name, version, networks, volumes, configs, secrets or x-*)"
                            )));
                        }
                    }
                }
                let services = services.ok_or_else(|| de::Error::missing_field("services"))?;
                Ok(ComposeFile { name, services })
            }
        }
        d.deserialize_map(V)
    }
}

/// `services:`, in file order.
struct Services(Vec<(String, Service)>);

impl<'de> Deserialize<'de> for Services {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Services;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a map of service names to services")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Services, A::Error> {
                let mut out = Vec::new();
                while let Some((k, v)) = map.next_entry::<String, Service>()? {
                    out.push((k, v));
                }
                Ok(Services(out))
            }
        }
        d.deserialize_map(V)
    }
}

impl<'de> Deserialize<'de> for Service {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Service;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a Compose service (a map of keys such as image and command)")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Service, A::Error> {
                let mut s = Service::default();
                while let Some(key) = map.next_key::<String>()? {
                    service_key(&mut s, &key, &mut map)?;
                }
                Ok(s)
            }
        }
        d.deserialize_map(V)
    }
}

fn service_key<'de, A: MapAccess<'de>>(
    s: &mut Service,
    key: &str,
    map: &mut A,
) -> Result<(), A::Error> {
    if let Some(why) = cannot_express(key) {
        let why = format!("`{key}` cannot be expressed in a parity scenario: {why}");
        return map.next_value_seed(Refuse(why));
    }
    if let Some(why) = dropped(key) {
        map.next_value::<IgnoredAny>()?;
        s.notes.push(format!("{key}: dropped: {why}"));
        return Ok(());
    }
    let c = &mut s.container;
    let text = |map: &mut A| map.next_value::<Text>().map(|t| t.0);
    let list = |map: &mut A| {
        map.next_value::<Vec<Text>>()
            .map(|v| v.into_iter().map(|t| t.0).collect::<Vec<_>>())
    };
    match key {
        "image" => s.image = Some(text(map)?),
        "build" => s.build = Some(map.next_value::<Build>()?.0),
        "command" => s.command = Some(map.next_value::<Words>()?.0),
        "entrypoint" => c.entrypoint = Some(map.next_value::<Words>()?.0),
        "environment" => c.environment = map.next_value::<Pairs<true>>()?.0,
        "sysctls" => c.sysctls = map.next_value::<Pairs<false>>()?.0,
        "user" => c.user = Some(text(map)?),
        "working_dir" => c.working_dir = Some(text(map)?),
        "hostname" => c.hostname = Some(text(map)?),
        "cap_add" => c.cap_add = list(map)?,
        "cap_drop" => c.cap_drop = list(map)?,
        "security_opt" => {
            let seed = Checked(|o: &str| match o.split_once(['=', ':']) {
                Some(("seccomp", v)) if v != "unconfined" => Err(format!(
                    "security_opt {o:?} cannot be expressed in a parity scenario: Compose reads the seccomp profile file and sends its text; a scenario passes security_opt to the engine as written (only seccomp=unconfined)"
                )),
                _ => Ok(()),
            });
            c.security_opt = map.next_value_seed(Each(seed))?;
        }
        "devices" => c.devices = list(map)?,
        "tmpfs" => c.tmpfs = map.next_value::<OneOrMany>()?.0,
        "volumes" => {
            for v in map.next_value::<Vec<Volume>>()? {
                match v.0 {
                    Mount::Volume(v) => c.volumes.push(v),
                    Mount::Tmpfs(t) => c.tmpfs.push(t),
                }
            }
        }
        "privileged" => c.privileged = Some(map.next_value()?),
        "read_only" => c.read_only = Some(map.next_value()?),
        "init" => c.init = Some(map.next_value()?),
        "network_mode" => c.network_mode = Some(text(map)?),
        "pid" => c.pid = Some(text(map)?),
        "ipc" => c.ipc = Some(text(map)?),
        "uts" => c.uts = Some(text(map)?),
        "userns_mode" => c.userns_mode = Some(text(map)?),
        "cgroup" => {
            let seed = Checked(|v: &str| match v {
                "host" | "private" => Ok(()),
                _ => Err(format!("cgroup {v:?}: expected host or private")),
            });
            c.cgroup = Some(map.next_value_seed(seed)?);
        }
        "shm_size" | "mem_limit" => {
            let seed = Checked(|v: &str| match parse_size(v) {
                Some(_) => Ok(()),
                None => Err(format!("{key} {v:?}: expected a size such as 64m or 1g")),
            });
            let v = map.next_value_seed(seed)?;
            match key {
                "shm_size" => c.shm_size = Some(v),
                _ => c.mem_limit = Some(v),
            }
        }
        "pids_limit" => {
            let n: i64 = map.next_value()?;
            c.pids_limit = Some(if n <= 0 { -1 } else { n });
        }
        k if k.starts_with("x-") => {
            map.next_value::<IgnoredAny>()?;
        }
        other => {
            let why = format!("unknown Compose service key `{other}`");
            return map.next_value_seed(Refuse(why));
        }
    }
    Ok(())
}

/// Letters, digits, `-` and `_`; anything else becomes `_`.
fn id_part(s: &str) -> String {
    s.chars()
        .map(
            |c| match c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                true => c,
                false => '_',
            },
        )
        .collect()
}

/// The scenario area of a Compose file: its `name:`, else its file name
/// (`stack.yaml` → `stack`), else its folder's (`app/compose.yaml` →
/// `app`).
pub fn area_for(file: &Path, name: Option<&str>, cwd: &Path) -> String {
    let stem = file
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    let generic = [
        "compose",
        "docker-compose",
        "compose.override",
        "docker-compose.override",
    ];
    let area = match name {
        Some(n) => n.to_string(),
        None if !generic.contains(&stem.as_str()) => stem,
        None => absolute(file, cwd)
            .parent()
            .and_then(|p| p.file_name())
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default(),
    };
    let area = id_part(area.trim());
    match area.trim_matches('_').is_empty() {
        true => "compose".into(),
        false => area,
    }
}

impl Service {
    /// The service as a scenario workload in folder `scenario_dir`, with
    /// relative paths (written from `compose_dir`) rewritten from there.
    pub fn imported(
        &self,
        name: &str,
        compose_dir: &Path,
        scenario_dir: &Path,
    ) -> Result<Imported, String> {
        let rebase = |p: &str| relative(scenario_dir, &absolute(Path::new(p), compose_dir));
        let image = match (&self.build, &self.image) {
            (Some(dir), _) => ImageRef::Build(rebase(dir)),
            (None, Some(image)) => ImageRef::Name(image.clone()),
            (None, None) => return Err(format!("service `{name}` has neither image nor build")),
        };
        let command = self.command.clone().unwrap_or_default();
        if command.is_empty() {
            return Err(format!(
                "service `{name}` has no command: a scenario names the workload's argv (the image's own CMD is not known without the image); add `command:` to the service, or import the others with --service"
            ));
        }
        let mut container = self.container.clone();
        rebase_binds(&mut container, compose_dir, scenario_dir);
        let mut notes = self.notes.clone();
        if container.network_mode.is_none() {
            notes.push(
                "no network_mode: parity runs it with network_mode none (Compose gives it the project's network); set network_mode: bridge for a network".into(),
            );
        }
        Ok(Imported {
            image,
            command,
            container,
            notes,
        })
    }
}

/// `parity import compose FILE [--service S]`: writes one scenario per
/// service (or just S) under `scenarios_root/AREA/`, none when any cannot
/// be written, and says what was written and dropped.
pub fn command(
    scenarios_root: &Path,
    file: &Path,
    service: Option<&str>,
    cwd: &Path,
) -> Result<String, ImportError> {
    let text = std::fs::read_to_string(file).map_err(|source| ImportError::Read {
        path: file.to_path_buf(),
        source,
    })?;
    let compose: ComposeFile = crate::load::yaml::from_str(file, &text)?;
    // Checked against the specification after parity's own reading: the
    // text is not interpolated here, and a `${VAR}` has parity's plainer
    // error; keys parity drops (`depends_on`, ...) are still checked.
    crate::load::compose::check_spec(file, &text)?;
    let shown = file.display();
    let services: Vec<&(String, Service)> = match service {
        Some(s) => {
            let found = compose.services.iter().find(|(n, _)| n == s);
            let names: Vec<&str> = compose.services.iter().map(|(n, _)| n.as_str()).collect();
            vec![found.ok_or_else(|| {
                ImportError::Compose(format!(
                    "{shown}: no service `{s}` (services: {})",
                    names.join(", ")
                ))
            })?]
        }
        None => compose.services.iter().collect(),
    };
    if services.is_empty() {
        return Err(ImportError::Compose(format!("{shown}: no services")));
    }
    let area = area_for(file, compose.name.as_deref(), cwd);
    let compose_dir = absolute(file, cwd)
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_default();
    let root = absolute(scenarios_root, cwd);
    let mut planned: Vec<(String, PathBuf, String, Vec<String>)> = Vec::new();
    for (name, svc) in services {
        let id = scaffold::parse_id(&format!("{area}/{}", id_part(name)))?;
        if planned.iter().any(|(other, ..)| *other == id) {
            return Err(ImportError::Compose(format!(
                "{shown}: two services would both be scenario {id}"
            )));
        }
        let path = scaffold::free_path(scenarios_root, &id)?;
        let imported = svc
            .imported(name, &compose_dir, &root.join(&area))
            .map_err(|e| ImportError::Compose(format!("{shown}: {e}")))?;
        let origin = Origin {
            how: "parity import compose",
            from: format!("{shown}, service {name}"),
            description: import::shorten(
                &format!(
                    "Service {name} of {shown}, imported from Compose: {} {}",
                    imported.image,
                    import::shell_line(&imported.command)
                ),
                120,
            ),
        };
        let text = import::scenario_text(&id, &imported, &origin);
        planned.push((id, path, text, imported.notes));
    }
    let mut written = Vec::new();
    for (_, path, text, notes) in planned {
        scaffold::write_new_file(&path, &text)?;
        written.push((path, notes));
    }
    Ok(import::written(&written, cwd))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::load::scenario::ScenarioFile;
    use rstest::rstest;

    fn parse(text: &str) -> Result<ComposeFile, crate::load::yaml::YamlError> {
        crate::load::yaml::from_str(Path::new("compose.yaml"), text)
    }

    fn one(text: &str) -> Service {
        parse(text).unwrap().services.remove(0).1
    }

    fn scratch(tag: &str) -> PathBuf {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../target")
            .join(format!("parity-compose-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    const FULL: &str = r#"
name: shop
version: "3.9"
x-common: &common
  restart: always
services:
  web:
    image: busybox:latest
    command: sh -c 'echo "hi there" && id -u'
    entrypoint: ["/bin/sh"]
    environment:
      A: 1
      B: "x y"
      PRICE: "$$5"
    user: 1000
    working_dir: /srv
    hostname: web
    cap_add: [NET_ADMIN]
    cap_drop: [MKNOD]
    security_opt: [no-new-privileges]
    devices: ["/dev/fuse"]
    tmpfs: /run
    volumes:
      - /srv:/data:ro
      - cache:/cache
      - type: tmpfs
        target: /scratch
        tmpfs: { size: 1m, mode: 1777 }
      - type: bind
        source: /etc
        target: /host-etc
        read_only: true
    privileged: false
    read_only: true
    init: true
    network_mode: bridge
    pid: host
    ipc: private
    uts: host
    userns_mode: host
    cgroup: private
    sysctls: [net.core.somaxconn=1024]
    shm_size: 64m
    mem_limit: 67108864
    pids_limit: 100
    ports: ["80:80"]
    restart: always
    x-note: ignored
  worker:
    build: ./app
    command: ["true"]
networks:
  default: {}
volumes:
  cache: {}
"#;

    #[test]
    fn every_shared_key_is_read() {
        let f = parse(FULL).unwrap();
        assert_eq!(f.name.as_deref(), Some("shop"));
        assert_eq!(f.services.len(), 2);
        let (name, web) = &f.services[0];
        assert_eq!(name, "web");
        assert_eq!(web.image.as_deref(), Some("busybox:latest"));
        assert_eq!(
            web.command.clone().unwrap(),
            vec!["sh", "-c", "echo \"hi there\" && id -u"]
        );
        let c = &web.container;
        assert_eq!(c.entrypoint, Some(vec!["/bin/sh".to_string()]));
        assert_eq!(c.environment["A"], "1");
        assert_eq!(c.environment["B"], "x y");
        assert_eq!(c.environment["PRICE"], "$5");
        assert_eq!(c.user.as_deref(), Some("1000"));
        assert_eq!(c.tmpfs, vec!["/run", "/scratch:size=1m,mode=1777"]);
        assert_eq!(
            c.volumes,
            vec!["/srv:/data:ro", "cache:/cache", "/etc:/host-etc:ro"]
        );
        assert_eq!(c.read_only, Some(true));
        assert_eq!(c.privileged, Some(false));
        assert_eq!(c.sysctls["net.core.somaxconn"], "1024");
        assert_eq!(c.mem_limit.as_deref(), Some("67108864"));
        assert_eq!(c.pids_limit, Some(100));
        assert_eq!(c.cgroup.as_deref(), Some("private"));
        assert_eq!(web.notes.len(), 2, "{:?}", web.notes);
        assert!(web.notes[0].starts_with("ports: dropped"));
        assert_eq!(f.services[1].1.build.as_deref(), Some("./app"));
    }

    #[test]
    fn services_round_trip_through_the_scenario_loader() {
        let f = parse(FULL).unwrap();
        let compose_dir = Path::new("/repo/deploy");
        let scenario_dir = Path::new("/repo/scenarios/shop");
        for (name, svc) in &f.services {
            let imported = svc.imported(name, compose_dir, scenario_dir).unwrap();
            let origin = Origin {
                how: "t",
                from: name.clone(),
                description: "d".into(),
            };
            let text = import::scenario_text("shop/x", &imported, &origin);
            let file: ScenarioFile =
                crate::load::yaml::from_str(Path::new("x.yaml"), &text).unwrap();
            assert_eq!(file.container, imported.container, "{text}");
            assert_eq!(file.image, imported.image);
            assert_eq!(file.command, imported.command);
        }
        let worker = f.services[1]
            .1
            .imported("worker", compose_dir, scenario_dir);
        assert_eq!(
            worker.unwrap().image,
            ImageRef::Build("../../deploy/app".into())
        );
    }

    #[test]
    fn relative_bind_sources_follow_the_scenario() {
        let s = one(
            "services:\n  a:\n    image: x\n    command: [true]\n    volumes: [./data:/data, ../up:/up:ro, /abs:/abs, named:/n]\n",
        );
        let i = s
            .imported("a", Path::new("/r/app"), Path::new("/r/scenarios/app"))
            .unwrap();
        assert_eq!(
            i.container.volumes,
            vec![
                "../../app/data:/data",
                "../../up:/up:ro",
                "/abs:/abs",
                "named:/n"
            ]
        );
    }

    #[rstest]
    #[case(
        "services:\n  a:\n    imgae: x\n",
        3,
        "unknown Compose service key `imgae`"
    )]
    #[case(
        "services:\n  a:\n    image: x\n    ulimits: {nofile: 1}\n",
        4,
        "`ulimits` cannot be expressed"
    )]
    #[case(
        "services:\n  a:\n    image: x\n  b:\n    image: y\n    cpus: 1\n",
        6,
        "`cpus`"
    )]
    #[case(
        "services:\n  a:\n    image: x\n    bogus:\n      deep: 1\n",
        5,
        "`bogus`"
    )]
    #[case(
        "services:\n  a:\n    image: x\n    cgroup: shared\n",
        4,
        "host or private"
    )]
    #[case(
        "services:\n  a:\n    image: x\n    security_opt: [a, \"seccomp=p.json\"]\n",
        4,
        "reads the seccomp"
    )]
    #[case("services:\n  a:\n    cpus: 2\n", 3, "no CPU limits")]
    #[case(
        "services:\n  a:\n    runtime: sysbox-runc\n",
        3,
        "parity chooses the runtime"
    )]
    #[case(
        "services:\n  a:\n    env_file: .env\n",
        3,
        "`env_file` cannot be expressed"
    )]
    #[case("servics: {}\n", 1, "unknown Compose key `servics`")]
    #[case("include: [a.yaml]\nservices: {}\n", 1, "`include` cannot be imported")]
    #[case(
        "services:\n  a:\n    environment: [HOME]\n",
        3,
        "takes it from the calling shell"
    )]
    #[case(
        "services:\n  a:\n    environment:\n      HOME:\n",
        4,
        "takes it from the calling shell"
    )]
    #[case("services:\n  a:\n    image: ${IMAGE}\n", 3, "does not interpolate")]
    #[case(
        "services:\n  a:\n    command: echo $HOME\n",
        3,
        "does not interpolate"
    )]
    #[case("services:\n  a:\n    command: \"echo 'x\"\n", 3, "not closed")]
    #[case("services:\n  a:\n    volumes: [data]\n", 3, "SOURCE:/TARGET")]
    #[case(
        "services:\n  a:\n    volumes:\n      - type: bind\n        target: /x\n",
        4,
        "needs a source"
    )]
    #[case(
        "services:\n  a:\n    volumes:\n      - type: volume\n        target: /x\n        colour: red\n",
        6,
        "colour"
    )]
    #[case("services:\n  a:\n    cgroup: shared\n", 3, "host or private")]
    #[case("services:\n  a:\n    shm_size: lots\n", 3, "64m")]
    #[case(
        "services:\n  a:\n    security_opt: [seccomp=p.json]\n",
        3,
        "reads the seccomp profile"
    )]
    #[case(
        "services:\n  a:\n    build: { context: ., dockerfile: Other }\n",
        3,
        "builds DIR/Dockerfile"
    )]
    #[case("services:\n  a:\n    privileged: maybe\n", 3, "")]
    #[case("name: x\n", 1, "services")]
    fn errors_name_the_key_and_where(#[case] text: &str, #[case] line: u64, #[case] needle: &str) {
        let err = parse(text).unwrap_err();
        assert!(err.to_string().contains(needle), "{err}");
        assert!(err.to_string().starts_with("compose.yaml:"), "{err}");
        assert_eq!(err.line, line, "{err}");
    }

    #[rstest]
    #[case("stack.yaml", None, "stack")]
    #[case("deploy/compose.yaml", None, "deploy")]
    #[case("my.app/docker-compose.yml", None, "my_app")]
    #[case("compose.yaml", Some("shop"), "shop")]
    fn areas_come_from_the_name_file_or_folder(
        #[case] file: &str,
        #[case] name: Option<&str>,
        #[case] want: &str,
    ) {
        assert_eq!(area_for(Path::new(file), name, Path::new("/r")), want);
    }

    #[test]
    fn a_service_without_command_or_image_is_named() {
        let s = one("services:\n  db:\n    image: postgres\n");
        let err = s
            .imported("db", Path::new("/a"), Path::new("/b"))
            .unwrap_err();
        assert!(err.contains("service `db` has no command"), "{err}");
        let s = one("services:\n  db:\n    command: [x]\n");
        let err = s
            .imported("db", Path::new("/a"), Path::new("/b"))
            .unwrap_err();
        assert!(err.contains("neither image nor build"), "{err}");
    }

    #[test]
    fn the_files_lint_clean_one_per_service_and_none_is_overwritten() {
        let dir = scratch("write");
        let file = dir.join("stack.yaml");
        std::fs::write(
            &file,
            "services:\n  web:\n    image: busybox:latest\n    command: sh -c 'id -u'\n    cap_add: [NET_ADMIN]\n    ports: [\"8080:80\"]\n  job.one:\n    image: busybox:latest\n    command: [\"true\"]\n    read_only: true\n",
        )
        .unwrap();
        let root = dir.join("scenarios");
        let text = command(&root, &file, None, &dir).unwrap();
        assert!(
            text.contains("created scenarios/stack/web.yaml\n"),
            "{text}"
        );
        assert!(
            text.contains("created scenarios/stack/job_one.yaml\n"),
            "{text}"
        );
        assert!(text.contains("note: ports: dropped"), "{text}");
        let profiles = crate::load::runtime::Profiles::built_in().unwrap();
        let findings = crate::author::lint::lint_paths(std::slice::from_ref(&root), &profiles);
        assert!(findings.is_empty(), "{findings:?}");
        let web =
            crate::load::scenario::Scenario::load(&root, &root.join("stack/web.yaml")).unwrap();
        assert_eq!(web.file.container.cap_add, vec!["NET_ADMIN"]);
        assert_eq!(web.file.command, vec!["sh", "-c", "id -u"]);
        // Again: refused, and nothing is touched.
        std::fs::remove_file(root.join("stack/job_one.yaml")).unwrap();
        let err = command(&root, &file, None, &dir).unwrap_err();
        assert!(err.to_string().contains("already exists"), "{err}");
        assert!(!root.join("stack/job_one.yaml").exists());
        // One service only.
        command(&root, &file, Some("job.one"), &dir).unwrap();
        assert!(root.join("stack/job_one.yaml").exists());
        let err = command(&root, &file, Some("nope"), &dir).unwrap_err();
        assert!(err.to_string().contains("services: web, job.one"), "{err}");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_dropped_key_that_is_not_valid_compose_is_a_located_error() {
        let dir = scratch("spec");
        let file = dir.join("compose.yaml");
        let text = "services:\n  web:\n    image: busybox:latest\n    command: [\"true\"]\n    depends_on:\n      db: {condition: bogus}\n  db:\n    image: busybox:latest\n    command: [\"true\"]\n";
        // parity drops `depends_on` unread; the specification refuses it.
        assert!(parse(text).is_ok());
        std::fs::write(&file, text).unwrap();
        let root = dir.join("scenarios");
        let err = command(&root, &file, None, &dir).unwrap_err();
        let shown = err.to_string();
        assert!(shown.contains("compose.yaml:6:"), "{shown}");
        assert!(shown.contains("unknown variant `bogus`"), "{shown}");
        assert!(!root.exists(), "nothing is written: {shown}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
