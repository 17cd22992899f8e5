//! A [`RunSpec`] as an Engine API create request.
//!
//! Owns the mapping of Compose-spec names to `ContainerCreateBody` and
//! `HostConfig` fields, the probe's entrypoint wrapper, and parity's labels.
//! Pure: no requests are made here.

use std::collections::HashMap;

use bollard::models::{
    ContainerCreateBody, DeviceMapping, EndpointSettings, HostConfig, HostConfigCgroupnsModeEnum,
    HostConfigLogConfig, Mount, MountType, MountVolumeOptions, NetworkingConfig,
};

use super::client::{HOST_LABEL, PID_LABEL, RUN_LABEL, hostname};
use crate::load::container::{DEFAULT_PIDS_LIMIT, is_bind_source, parse_size};
use crate::run::image::{PROBE_DIR, PROBE_OUT, PROBE_PATH, resolve_bind_source};
use crate::run::plan::{ProbePlan, RunSpec};

/// How long the probe waits for its tracer before running untraced.
pub const TRACER_WAIT_SECS: u32 = 20;

/// The create request, and the named volumes it creates (to remove after).
pub struct CreateRequest {
    pub body: ContainerCreateBody,
    pub volumes: Vec<String>,
}

/// `image_entrypoint` is the image's own entrypoint (used when the scenario
/// sets none and the probe wraps the command).
pub fn create_request(
    spec: &RunSpec,
    image: &str,
    image_entrypoint: &[String],
    name: &str,
    run_id: &str,
) -> Result<CreateRequest, String> {
    let c = &spec.container;
    let mut labels = HashMap::from([
        (RUN_LABEL.to_string(), run_id.to_string()),
        (PID_LABEL.to_string(), std::process::id().to_string()),
        (HOST_LABEL.to_string(), hostname()),
        ("io.parity.scenario".to_string(), spec.scenario_id.clone()),
        ("io.parity.runtime".to_string(), spec.runtime.clone()),
    ]);
    labels.retain(|_, v| !v.is_empty());

    let (mut binds, mut mounts, mut volumes) = (Vec::new(), Vec::new(), Vec::new());
    for v in &c.volumes {
        let parts: Vec<&str> = v.split(':').collect();
        let (source, target, mode) = match parts.as_slice() {
            [t] => ("", *t, ""),
            [s, t] => (*s, *t, ""),
            [s, t, m] => (*s, *t, *m),
            _ => return Err(format!("volume {v:?} is not SOURCE:TARGET[:MODE]")),
        };
        if is_bind_source(source) {
            let source = resolve_bind_source(&spec.scenario_path, source);
            binds.push(if mode.is_empty() {
                format!("{source}:{target}")
            } else {
                format!("{source}:{target}:{mode}")
            });
        } else {
            let shared = spec.stack.as_ref().and_then(|m| m.volumes.get(source));
            let vol_name = match shared {
                Some(n) => Some(n.clone()),
                None => (!source.is_empty()).then(|| format!("{name}-{source}")),
            };
            if let (Some(n), None) = (&vol_name, shared) {
                volumes.push(n.clone());
            }
            mounts.push(Mount {
                target: Some(target.to_string()),
                source: vol_name,
                typ: Some(MountType::VOLUME),
                read_only: Some(mode.split(',').any(|m| m == "ro")),
                volume_options: Some(MountVolumeOptions {
                    labels: Some(labels.clone()),
                    ..Default::default()
                }),
                ..Default::default()
            });
        }
    }
    let mut probe_tmpfs = None;
    if probe_home(spec) == Some(ProbeHome::InImage) {
        // parity's own image holds the probe and the report comes back on
        // the tracer's output: no volume, no upload, no download. The
        // results folder is the image's own (so what the wrapper wrote can
        // still be downloaded should the tracer report nothing), or a small
        // tmpfs under a read-only rootfs.
        if c.read_only.unwrap_or(false) {
            probe_tmpfs = Some((PROBE_OUT.to_string(), "mode=1777,size=64m".to_string()));
        }
    } else if spec.probe.is_some() {
        // The probe's own folder: an anonymous volume, so the probe can be
        // uploaded and write results even with a read-only rootfs.
        mounts.push(Mount {
            target: Some(PROBE_DIR.into()),
            typ: Some(MountType::VOLUME),
            volume_options: Some(MountVolumeOptions {
                labels: Some(labels.clone()),
                ..Default::default()
            }),
            ..Default::default()
        });
    }
    let (entrypoint, cmd) = match &spec.probe {
        Some(p) if !p.unwrapped => {
            let inner = c
                .entrypoint
                .clone()
                .unwrap_or_else(|| image_entrypoint.to_vec());
            let mut ep = wrap_args(p);
            ep.extend(inner);
            (Some(ep), Some(spec.command.clone()))
        }
        // A stack's service without a command runs the image's own.
        _ => (
            c.entrypoint.clone(),
            (!spec.command.is_empty()).then(|| spec.command.clone()),
        ),
    };
    let devices = c
        .devices
        .iter()
        .map(|d| {
            let parts: Vec<&str> = d.split(':').collect();
            DeviceMapping {
                path_on_host: parts.first().map(|s| s.to_string()),
                path_in_container: Some(parts.get(1).unwrap_or(&parts[0]).to_string()),
                cgroup_permissions: Some(parts.get(2).unwrap_or(&"rwm").to_string()),
            }
        })
        .collect::<Vec<_>>();
    let tmpfs: HashMap<String, String> = c
        .tmpfs
        .iter()
        .map(|t| match t.split_once(':') {
            Some((p, o)) => (p.to_string(), o.to_string()),
            None => (t.to_string(), String::new()),
        })
        .chain(probe_tmpfs)
        .collect();
    let size = |s: &Option<String>, what: &str| -> Result<Option<i64>, String> {
        s.as_deref()
            .map(|v| parse_size(v).ok_or_else(|| format!("{what} {v:?} is not a size like 64m")))
            .transpose()
    };
    let cgroupns_mode = match c.cgroup.as_deref() {
        None => None,
        Some("host") => Some(HostConfigCgroupnsModeEnum::HOST),
        Some("private") => Some(HostConfigCgroupnsModeEnum::PRIVATE),
        Some(other) => return Err(format!("cgroup {other:?} is not host or private")),
    };
    let host_config = HostConfig {
        runtime: Some(spec.oci_runtime.clone()),
        privileged: c.privileged,
        cap_add: non_empty(c.cap_add.clone()),
        cap_drop: non_empty(c.cap_drop.clone()),
        security_opt: non_empty(c.security_opt.clone()),
        devices: non_empty(devices),
        network_mode: c.network_mode.clone(),
        pid_mode: c.pid.clone(),
        ipc_mode: c.ipc.clone(),
        uts_mode: c.uts.clone(),
        userns_mode: c.userns_mode.clone(),
        cgroupns_mode,
        readonly_rootfs: c.read_only,
        sysctls: (!c.sysctls.is_empty()).then(|| c.sysctls.clone().into_iter().collect()),
        tmpfs: (!tmpfs.is_empty()).then_some(tmpfs),
        binds: non_empty(binds),
        mounts: non_empty(mounts),
        init: c.init,
        shm_size: size(&c.shm_size, "shm_size")?,
        memory: size(&c.mem_limit, "mem_limit")?,
        pids_limit: Some(c.pids_limit.unwrap_or(DEFAULT_PIDS_LIMIT)),
        // The output is read live through attach; the engine keeps no copy
        // (its json-file driver would store floods on the host's disk and
        // turn bytes that are not UTF-8 into U+FFFD).
        log_config: Some(HostConfigLogConfig {
            typ: Some("none".into()),
            config: None,
        }),
        ..Default::default()
    };
    let body = ContainerCreateBody {
        image: Some(image.to_string()),
        entrypoint,
        cmd,
        env: (!c.environment.is_empty()).then(|| {
            c.environment
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect()
        }),
        user: c.user.clone(),
        working_dir: c.working_dir.clone(),
        hostname: c.hostname.clone(),
        labels: Some(labels),
        tty: Some(false),
        attach_stdout: Some(false),
        attach_stderr: Some(false),
        network_disabled: None,
        host_config: Some(host_config),
        healthcheck: spec.stack.as_ref().and_then(|m| m.healthcheck.clone()),
        networking_config: spec.stack.as_ref().and_then(|m| m.network.clone()).map(
            |(net, aliases)| NetworkingConfig {
                endpoints_config: Some(HashMap::from([(
                    net,
                    EndpointSettings {
                        aliases: Some(aliases),
                        ..Default::default()
                    },
                )])),
            },
        ),
        ..Default::default()
    };
    Ok(CreateRequest { body, volumes })
}

fn non_empty<T>(v: Vec<T>) -> Option<Vec<T>> {
    (!v.is_empty()).then_some(v)
}

/// Where the probe lives in a container, and how its report comes back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProbeHome {
    /// In parity's own image: nothing to upload; the results folder is a
    /// tmpfs and the tracer writes the report on its output stream.
    InImage,
    /// Uploaded into an anonymous volume at `/.parity`, the report
    /// downloaded from there (other images, services, facts without a
    /// tracer).
    Uploaded,
}

/// Where the probe of `spec` lives; `None` without the probe.
pub fn probe_home(spec: &RunSpec) -> Option<ProbeHome> {
    let p = spec.probe.as_ref()?;
    Some(
        if spec.image.is_none() && p.needs_tracer() && !p.unwrapped {
            ProbeHome::InImage
        } else {
            ProbeHome::Uploaded
        },
    )
}

/// The probe's `wrap` invocation that precedes the workload's argv.
pub fn wrap_args(p: &ProbePlan) -> Vec<String> {
    let mut args = vec![
        PROBE_PATH.to_string(),
        "wrap".into(),
        "--out".into(),
        PROBE_OUT.into(),
    ];
    if p.needs_tracer() {
        args.extend(["--wait-tracer".into(), TRACER_WAIT_SECS.to_string()]);
    }
    if p.mounts {
        args.push("--mounts".into());
    }
    let facts: Vec<&str> = p
        .facts
        .iter()
        .filter(|f| **f != crate::load::scenario::Field::MountTable)
        .map(|f| f.name())
        .collect();
    if !facts.is_empty() {
        args.extend(["--facts".into(), facts.join(",")]);
    }
    args.push("--".into());
    args
}

/// The tracer started with exec once the container runs; with
/// `report_stdout` it writes its report on its output instead of a file.
pub fn attach_args(p: &ProbePlan, report_stdout: bool) -> Vec<String> {
    let mut args = vec![
        PROBE_PATH.to_string(),
        "attach".into(),
        "--pid".into(),
        "1".into(),
        "--out".into(),
        PROBE_OUT.into(),
    ];
    if p.syscalls {
        args.push("--syscalls".into());
    }
    if p.mounts {
        args.push("--mounts".into());
    }
    if report_stdout {
        args.push("--report-stdout".into());
    }
    args
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::load::container::ContainerSpec;
    use std::time::Duration;

    fn spec(container: ContainerSpec, probe: Option<ProbePlan>) -> RunSpec {
        RunSpec {
            stack: None,
            scenario_id: "a/b".into(),
            scenario_path: "/s/a/b.yaml".into(),
            runtime: "runc".into(),
            oci_runtime: "runc".into(),
            endpoint: "unix:///x".into(),
            image: None,
            command: vec!["sh".into(), "-c".into(), "true".into()],
            container,
            timeout: Duration::from_secs(1),
            grace: Duration::from_secs(1),
            probe,
            build: None,
        }
    }

    #[test]
    fn compose_names_map_to_the_engine_api() {
        let c: ContainerSpec = crate::load::yaml::from_str(
            std::path::Path::new("c.yaml"),
            "cap_add: [SYS_ADMIN]\npid: host\nread_only: true\ndevices: [/dev/fuse]\ntmpfs: [/run:size=1m]\nvolumes: [/etc/hosts:/h:ro, data:/d]\nenvironment: { A: b }\ncgroup: host\nmem_limit: 16m\n",
        )
        .unwrap();
        let req = create_request(&spec(c, None), "img", &[], "parity-x-1", "x").unwrap();
        let hc = req.body.host_config.unwrap();
        assert_eq!(hc.cap_add.unwrap(), vec!["SYS_ADMIN"]);
        assert_eq!(hc.pid_mode.as_deref(), Some("host"));
        assert_eq!(hc.readonly_rootfs, Some(true));
        assert_eq!(
            hc.devices.unwrap()[0].path_in_container.as_deref(),
            Some("/dev/fuse")
        );
        assert_eq!(hc.tmpfs.unwrap()["/run"], "size=1m");
        assert_eq!(hc.binds.unwrap(), vec!["/etc/hosts:/h:ro"]);
        assert_eq!(
            hc.mounts.unwrap()[0].source.as_deref(),
            Some("parity-x-1-data")
        );
        assert_eq!(req.volumes, vec!["parity-x-1-data"]);
        assert_eq!(hc.memory, Some(16 << 20));
        assert_eq!(hc.pids_limit, Some(DEFAULT_PIDS_LIMIT));
        assert_eq!(hc.log_config.unwrap().typ.as_deref(), Some("none"));
        assert_eq!(hc.runtime.as_deref(), Some("runc"));
        assert_eq!(req.body.env.unwrap(), vec!["A=b"]);
        assert_eq!(req.body.tty, Some(false));
        assert_eq!(req.body.labels.unwrap()[RUN_LABEL], "x");
    }

    #[test]
    fn the_probe_wraps_the_image_entrypoint() {
        let p = ProbePlan {
            syscalls: true,
            mounts: true,
            facts: Default::default(),
            service: false,
            unwrapped: false,
        };
        let mut named = spec(ContainerSpec::default(), Some(p.clone()));
        named.image = Some("img".into());
        assert_eq!(probe_home(&named), Some(ProbeHome::Uploaded));
        let req = create_request(&named, "img", &["/ep".into()], "n", "r").unwrap();
        let ep = req.body.entrypoint.unwrap();
        assert_eq!(ep[0], PROBE_PATH);
        assert_eq!(ep.last().unwrap(), "/ep");
        assert_eq!(ep[ep.len() - 2], "--");
        assert_eq!(req.body.cmd.unwrap(), vec!["sh", "-c", "true"]);
        let hc = req.body.host_config.unwrap();
        assert_eq!(hc.mounts.unwrap()[0].target.as_deref(), Some(PROBE_DIR));
        assert!(attach_args(&p, false).contains(&"--syscalls".to_string()));
    }

    #[test]
    fn parity_s_own_image_needs_no_volume_upload_or_download() {
        let p = ProbePlan {
            syscalls: false,
            mounts: true,
            facts: Default::default(),
            service: false,
            unwrapped: false,
        };
        let own = spec(ContainerSpec::default(), Some(p.clone()));
        assert_eq!(probe_home(&own), Some(ProbeHome::InImage));
        let req = create_request(&own, "parity-probe:x", &[], "n", "r").unwrap();
        let hc = req.body.host_config.unwrap();
        assert_eq!(hc.mounts, None, "no volume");
        assert_eq!(hc.tmpfs, None, "the image's own results folder");
        assert!(attach_args(&p, true).contains(&"--report-stdout".to_string()));
        let ro = spec(
            ContainerSpec {
                read_only: Some(true),
                ..Default::default()
            },
            Some(p),
        );
        let hc = create_request(&ro, "parity-probe:x", &[], "n", "r")
            .unwrap()
            .body
            .host_config
            .unwrap();
        assert_eq!(hc.tmpfs.unwrap()[PROBE_OUT], "mode=1777,size=64m");
    }

    #[test]
    fn an_unwrapped_service_keeps_its_command_and_gets_the_probe_folder() {
        let p = ProbePlan {
            syscalls: true,
            mounts: true,
            facts: Default::default(),
            service: true,
            unwrapped: true,
        };
        let mut s = spec(ContainerSpec::default(), Some(p));
        s.command = vec!["/sbin/init".into()];
        let req = create_request(&s, "img", &[], "n", "r").unwrap();
        assert_eq!(req.body.entrypoint, None);
        assert_eq!(req.body.cmd.unwrap(), vec!["/sbin/init"]);
        let hc = req.body.host_config.unwrap();
        assert_eq!(hc.mounts.unwrap()[0].target.as_deref(), Some(PROBE_DIR));
    }

    #[test]
    fn without_the_probe_the_command_is_untouched() {
        let req =
            create_request(&spec(ContainerSpec::default(), None), "img", &[], "n", "r").unwrap();
        assert_eq!(req.body.entrypoint, None);
        assert_eq!(req.body.cmd.unwrap(), vec!["sh", "-c", "true"]);
    }
}
