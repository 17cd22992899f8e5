//! Telling an engine's refusal from infrastructure trouble.
//!
//! A refusal is the engine or the OCI runtime rejecting the container's
//! configuration (a daemon validation error, `OCI runtime create failed`
//! with a spec or permission error): an observation, compared like any
//! other. Infrastructure trouble (timeouts, shim, fifo and I/O errors,
//! connection resets, a 5xx without a runtime's own message) says nothing
//! about the runtime: it is the harness's `error`, never a refusal, so a
//! stalled containerd that hits both sides alike cannot read as parity.

/// What an engine's error answer means.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Class {
    /// The runtime or the daemon rejected the configuration: its message.
    Refusal(String),
    /// The image is not in the engine.
    MissingImage(String),
    /// Trouble that says nothing about the runtime: its message.
    Infrastructure(String),
}

/// Markers of trouble below the runtime's own decision. They win over the
/// words of a refusal: `failed to create shim task: ... context deadline
/// exceeded` is containerd timing out, not runc refusing.
const INFRASTRUCTURE: [&str; 23] = [
    "context deadline exceeded",
    "context canceled",
    "deadline exceeded",
    "i/o timeout",
    "timed out",
    "connection reset",
    "connection refused",
    "broken pipe",
    "transport is closing",
    "ttrpc: closed",
    "ttrpc: client shutting down",
    "shim disconnected",
    "failed to start shim",
    "shim exited",
    "unexpected eof",
    "fifo",
    "error while dialing",
    "dial unix",
    "cannot connect to the docker daemon",
    "is the docker daemon running",
    "containerd: container not found",
    "no space left on device",
    "resource temporarily unavailable",
];

/// Words of a runtime's or the daemon's own decision about a configuration.
const REFUSAL: [&str; 16] = [
    "oci runtime",
    "runc create failed",
    "unable to start container process",
    "invalid",
    "not supported",
    "unsupported",
    "incompatible",
    "cannot share",
    "can't share",
    "conflicting options",
    "conflicts with",
    "not allowed",
    "permission denied",
    "operation not permitted",
    "unknown runtime",
    "restricted",
];

/// Classifies an error answer: HTTP `status` and the engine's `message`.
pub fn classify(status: u16, message: &str) -> Class {
    let text = message.trim().to_string();
    let lower = text.to_lowercase();
    if status == 404 && lower.contains("no such image") {
        return Class::MissingImage(text);
    }
    if INFRASTRUCTURE.iter().any(|m| lower.contains(m)) {
        return Class::Infrastructure(text);
    }
    match status {
        // The daemon validated the request and said no.
        400 | 403 => Class::Refusal(text),
        // A server error is a refusal only with the runtime's or daemon's
        // own reason in it.
        500 if REFUSAL.iter().any(|m| lower.contains(m)) => Class::Refusal(text),
        _ => Class::Infrastructure(text),
    }
}

/// Classifies a bollard error: answers by their status and message; every
/// failure to get an answer (connection, protocol, decoding) is
/// infrastructure.
pub fn classify_error(e: &bollard::errors::Error) -> Class {
    match e {
        bollard::errors::Error::DockerResponseServerError {
            status_code,
            message,
        } => classify(*status_code, message),
        other => Class::Infrastructure(other.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    #[rstest]
    // Measured on this host's engines and quoted by the catalog.
    #[case::privileged_here(
        500,
        "failed to create shim task: OCI runtime create failed: runc create failed: unable to start container process: unable to apply caps: operation not permitted: unknown",
        true
    )]
    #[case::userns_privileged(
        500,
        "privileged mode is incompatible with user namespaces.  You must run the container in the host namespace when running privileged mode",
        true
    )]
    #[case::userns_pid_host(
        400,
        "Cannot share the host PID namespace when user namespaces are enabled",
        true
    )]
    #[case::sysbox_pid_host(
        500,
        "OCI runtime create failed: container_linux.go:425: starting container process caused: invalid or unsupported container spec: sysbox containers can't share namespaces [pid] with the host (because they use the linux user-namespace for isolation): unknown",
        true
    )]
    #[case::sysbox_env(
        500,
        "OCI runtime create failed: invalid env var SYSBOX_FOO; must be one of SYSBOX_IGNORE_SYSFS_CHOWN, SYSBOX_ALLOW_TRUSTED_XATTR: unknown",
        true
    )]
    #[case::eci_mount(
        500,
        "OCI runtime create failed: can't mount /etc/docker/daemon.json because it's configured as a restricted host mount: unknown",
        true
    )]
    #[case::bad_parameter(
        400,
        "invalid mount config for type \"bind\": bind source path does not exist: /nope",
        true
    )]
    #[case::shim_deadline(
        500,
        "failed to create shim task: context deadline exceeded: unknown",
        false
    )]
    #[case::containerd_gone(
        500,
        "connection error: desc = \"transport: Error while dialing dial unix /run/containerd/containerd.sock: connect: connection refused\": unavailable",
        false
    )]
    #[case::fifo(
        500,
        "failed to create task for container: failed to start io pipe copy: unable to copy pipes: containerd-shim: opening w/o fifo \"...\" failed: context deadline exceeded",
        false
    )]
    #[case::bare_500(500, "something went wrong", false)]
    #[case::gateway(502, "Bad Gateway", false)]
    fn refusal_or_infrastructure(
        #[case] status: u16,
        #[case] message: &str,
        #[case] refusal: bool,
    ) {
        let c = classify(status, message);
        assert_eq!(matches!(c, Class::Refusal(_)), refusal, "{c:?}");
    }

    #[test]
    fn a_missing_image_is_its_own_kind() {
        assert!(matches!(
            classify(404, "No such image: nope:latest"),
            Class::MissingImage(_)
        ));
    }
}
