//! The static probe binary, embedded at build time.

/// The probe binary (empty until the build embeds it).
pub fn probe_binary() -> &'static [u8] {
    &[]
}
