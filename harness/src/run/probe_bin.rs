//! The static probe binary, embedded at build time (`build.rs` builds it,
//! or takes `PARITY_PROBE_BIN`), and a short stable digest of it for
//! versioning image tags. Owns no I/O: uploading it is the engine's job.

static PROBE: &[u8] = include_bytes!(env!("PARITY_PROBE_PATH"));

/// The probe, ready to upload as `/.parity/probe` (mode 0755).
pub fn probe_binary() -> &'static [u8] {
    PROBE
}

/// The first 12 hex digits of the probe's FNV-1a 64 digest: changes
/// whenever the probe does, stable across builds of the same bytes.
pub fn probe_digest() -> String {
    fnv1a64(PROBE)[..12].to_owned()
}

fn fnv1a64(bytes: &[u8]) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in bytes {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    format!("{h:016x}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digest_is_fnv1a64() {
        assert_eq!(fnv1a64(b""), "cbf29ce484222325");
        assert_eq!(fnv1a64(b"a"), "af63dc4c8601ec8c");
        assert_eq!(probe_digest().len(), 12);
        assert_eq!(probe_digest(), probe_digest());
    }

    #[test]
    fn embeds_a_static_elf() {
        let probe = probe_binary();
        assert!(probe.len() > 100_000, "probe is {} bytes", probe.len());
        assert_eq!(&probe[..4], b"\x7fELF");
    }
}
