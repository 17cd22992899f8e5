//! The probe's entry point: a C `main`, not Rust's. Rust's runtime would
//! set SIGPIPE to ignored (which exec passes on to the workload) and reopen
//! closed standard fds; the workload must see neither. Everything else is
//! in the library.

#![no_main]

use std::ffi::{CStr, OsString};
use std::os::unix::ffi::OsStringExt;

/// The process arguments after the program name.
///
/// # Safety
/// `argv` must hold `argc` valid NUL-terminated strings, as from the kernel.
unsafe fn args(argc: libc::c_int, argv: *const *const libc::c_char) -> Vec<OsString> {
    (1..usize::try_from(argc).unwrap_or(0))
        .map(|i| {
            // SAFETY: i < argc, and the caller guarantees argv[i] is valid.
            let s = unsafe { CStr::from_ptr(*argv.add(i)) };
            OsString::from_vec(s.to_bytes().to_vec())
        })
        .collect()
}

/// # Safety
/// Called only by the C runtime, with the kernel's argc/argv.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn main(argc: libc::c_int, argv: *const *const libc::c_char) -> libc::c_int {
    // SAFETY: the C runtime passes the kernel's argc/argv to main.
    let args = unsafe { args(argc, argv) };
    parity_probe::dispatch(args)
}
