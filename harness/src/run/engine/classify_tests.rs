//! The classification over real engine answers: moby's daemon, runc,
//! crun and sysbox-runc messages, each with where it comes from.

use super::*;
use rstest::rstest;

/// What the first look is expected to say.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum First {
    Validation,
    Marker,
    Unsettled,
    MissingImage,
}

fn first(phase: Phase, status: u16, message: &str) -> First {
    match look(phase, &Answer::new(status, message)) {
        Look::MissingImage => First::MissingImage,
        Look::Unsettled => First::Unsettled,
        Look::Decided(d) => match d.basis {
            Basis::Validation => First::Validation,
            Basis::Marker { .. } => First::Marker,
            other => panic!("a first look decided by {other:?}"),
        },
    }
}

#[rstest]
// moby (daemon/oci_linux.go, devices): measured on this host's Docker
// 20.10.24 with runc, plain and remapped, `--device /dev/doesnotexist`;
// issue reports quote the same words (`--device /dev/kvm` under Docker
// Desktop). A 500 at start, the daemon's own words, in no word list.
#[case::moby_device(
    Phase::Start,
    500,
    "error gathering device information while adding custom device \"/dev/doesnotexist\": no such file or directory",
    First::Unsettled,
    Speaker::Daemon
)]
// moby: `--ipc container:nope` answered 404 at create (measured here).
#[case::moby_ipc_container(
    Phase::Create,
    404,
    "No such container: nope-refusals",
    First::Unsettled,
    Speaker::Daemon
)]
// moby: `--network nope` answered 404 at start (measured here).
#[case::moby_network(
    Phase::Start,
    404,
    "network nope-refusals not found",
    First::Unsettled,
    Speaker::Daemon
)]
// moby (daemon/daemon_unix.go, verifyPlatformContainerSettings) under
// --userns-remap: `--pid host` is a 400 at create (measured here).
#[case::moby_userns_pid_host(
    Phase::Create,
    400,
    "cannot share the host PID namespace when user namespaces are enabled",
    First::Validation,
    Speaker::Daemon
)]
// moby (volume/mounts/linux_parser.go): a bind source that does not
// exist, 400 at create (measured here on the production engine).
#[case::moby_bind_source(
    Phase::Create,
    400,
    "invalid mount config for type \"bind\": bind source path does not exist: /nonexistent-refusals",
    First::Validation,
    Speaker::Daemon
)]
// moby (daemon/daemon_unix.go) under --userns-remap: `--privileged`.
#[case::moby_userns_privileged(
    Phase::Create,
    500,
    "privileged mode is incompatible with user namespaces.  You must run the container in the host namespace when running privileged mode",
    First::Unsettled,
    Speaker::Daemon
)]
// runc through containerd's shim (containerd process/init.go wraps the
// runtime's log as `OCI runtime create failed`): `--tmpfs /x:mode=zz`,
// measured here.
#[case::runc_tmpfs_mode(
    Phase::Start,
    500,
    "failed to create shim task: OCI runtime create failed: runc create failed: unable to start container process: error during container init: error mounting \"tmpfs\" to rootfs at \"/x\": mount tmpfs:/x (via /proc/self/fd/6), flags: 0xe, data: mode=zz: invalid argument: unknown",
    First::Unsettled,
    Speaker::Runtime
)]
// runc: a working directory it cannot make (`--workdir /proc/self/nope`),
// measured here.
#[case::runc_workdir(
    Phase::Start,
    500,
    "failed to create shim task: OCI runtime create failed: runc create failed: unable to start container process: error during container init: mkdir /proc/self/nope: no such file or directory: unknown",
    First::Unsettled,
    Speaker::Runtime
)]
// runc: `--privileged` on this host (catalog, measured).
#[case::runc_privileged_here(
    Phase::Start,
    500,
    "failed to create shim task: OCI runtime create failed: runc create failed: unable to start container process: unable to apply caps: operation not permitted: unknown",
    First::Unsettled,
    Speaker::Runtime
)]
// sysbox-runc (libsysbox/spec/spec.go, "sysbox containers can't share
// namespaces %v with the host ..."), as Docker's ECI documentation
// quotes it for `--pid=host`.
#[case::sysbox_pid_host(
    Phase::Start,
    500,
    "failed to create shim task: OCI runtime create failed: error in the container spec: invalid or unsupported container spec: sysbox containers can't share namespaces [pid] with the host (because they use the linux user-namespace for isolation): unknown",
    First::Unsettled,
    Speaker::Runtime
)]
// sysbox-runc: an unknown SYSBOX_ variable (catalog).
#[case::sysbox_env(
    Phase::Start,
    500,
    "OCI runtime create failed: invalid env var SYSBOX_FOO; must be one of SYSBOX_IGNORE_SYSFS_CHOWN, SYSBOX_ALLOW_TRUSTED_XATTR: unknown",
    First::Unsettled,
    Speaker::Runtime
)]
// ECI's sysbox-runc: a restricted host mount (catalog).
#[case::eci_mount(
    Phase::Start,
    500,
    "OCI runtime create failed: can't mount /etc/docker/daemon.json because it's configured as a restricted host mount: unknown",
    First::Unsettled,
    Speaker::Runtime
)]
// crun under Docker (the reproduction of containers/crun#830): the
// runtime's own words, no listed word in them.
#[case::crun_sd_bus(
    Phase::Start,
    500,
    "failed to create shim: OCI runtime create failed: sd-bus call: Invalid argument: unknown",
    First::Unsettled,
    Speaker::Runtime
)]
// runc killed under memory pressure (a forum report quoted by
// defencedog/radxazero3E): the runtime's wrapper, but trouble; only a
// second attempt tells.
#[case::runc_abort(
    Phase::Start,
    500,
    "failed to create task for container: failed to create shim task: OCI runtime create failed: runc did not terminate successfully: exit status 134: unknown",
    First::Unsettled,
    Speaker::Runtime
)]
// containerd's shim timing out: a marker wins over the runtime wrapper.
#[case::shim_deadline(
    Phase::Start,
    500,
    "failed to create shim task: context deadline exceeded: unknown",
    First::Marker,
    Speaker::Daemon
)]
#[case::containerd_gone(
    Phase::Start,
    500,
    "connection error: desc = \"transport: Error while dialing dial unix /run/containerd/containerd.sock: connect: connection refused\": unavailable",
    First::Marker,
    Speaker::Daemon
)]
#[case::fifo(
    Phase::Start,
    500,
    "failed to create task for container: failed to start io pipe copy: unable to copy pipes: containerd-shim: opening w/o fifo \"...\" failed: context deadline exceeded",
    First::Marker,
    Speaker::Daemon
)]
#[case::missing_image(
    Phase::Create,
    404,
    "No such image: nope:latest",
    First::MissingImage,
    Speaker::Daemon
)]
#[case::gateway(Phase::Create, 502, "Bad Gateway", First::Unsettled, Speaker::Daemon)]
fn a_first_look(
    #[case] phase: Phase,
    #[case] status: u16,
    #[case] message: &str,
    #[case] want: First,
    #[case] speaker: Speaker,
) {
    assert_eq!(first(phase, status, message), want);
    assert_eq!(Answer::new(status, message).speaker(), speaker);
}

fn device() -> Answer {
    Answer::new(
        500,
        "error gathering device information while adding custom device \"/dev/doesnotexist\": no such file or directory",
    )
}

#[rstest]
// The same refusal again, word for word: a refusal.
#[case::repeated(Second::Answered(device()), Verdict::Refusal)]
#[case::another_status(
    Second::Answered(Answer::new(
        404,
        "error gathering device information while adding custom device \"/dev/doesnotexist\": no such file or directory"
    )),
    Verdict::Trouble
)]
#[case::changed(
    Second::Answered(Answer::new(
        500,
        "failed to create endpoint on network bridge: could not find bridge docker0"
    )),
    Verdict::Trouble
)]
#[case::then_a_marker(
    Second::Answered(Answer::new(
        500,
        "failed to create shim task: context deadline exceeded: unknown"
    )),
    Verdict::Trouble
)]
#[case::then_succeeded(Second::Succeeded, Verdict::Trouble)]
#[case::then_no_answer(Second::NoAnswer, Verdict::Trouble)]
#[case::then_gone(Second::Vanished, Verdict::Trouble)]
#[case::not_repeated(Second::NotMade("interrupted".into()), Verdict::Trouble)]
fn a_second_attempt_settles(#[case] second: Second, #[case] want: Verdict) {
    let d = settle(Phase::Start, &device(), &second);
    assert_eq!(d.decided, want, "{d:?}");
    assert_eq!(d.status, Some(500));
}

#[test]
fn ids_and_numbers_are_not_words() {
    let a = Answer::new(
        500,
        "OCI runtime create failed: mount tmpfs:/x (via /proc/self/fd/6) in 0123456789abcdef0123: unknown",
    );
    let b = Answer::new(
        500,
        "OCI runtime create failed: mount tmpfs:/x (via /proc/self/fd/11) in fedcba9876543210fedc: unknown",
    );
    assert!(a.same_as(&b), "{} / {}", a.words(), b.words());
    let c = Answer::new(500, "OCI runtime create failed: mount proc:/x: unknown");
    assert!(!a.same_as(&c));
}

#[test]
fn a_decision_says_which_way_and_why() {
    let refused = settle(Phase::Start, &device(), &Second::Answered(device()));
    assert_eq!(
        refused.describe(),
        "refused at start by the daemon (HTTP 500): the same answer twice, word for word"
    );
    let trouble = settle(Phase::Start, &device(), &Second::Succeeded);
    assert!(
        trouble
            .describe()
            .starts_with("engine trouble at start, not a refusal (HTTP 500)"),
        "{}",
        trouble.describe()
    );
    let json = serde_json::to_value(&refused).unwrap();
    assert_eq!(json["decided"], "refusal");
    assert_eq!(json["by"], "repeated");
    assert_eq!(json["phase"], "start");
}
