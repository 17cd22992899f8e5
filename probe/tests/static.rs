//! The probe must run in any image (scratch, distroless): a static binary
//! with no program interpreter and no shared-library dependencies. The ELF
//! check is done by hand and checked against a dynamic binary too.

mod common;

use std::path::Path;

const PT_DYNAMIC: u32 = 2;
const PT_INTERP: u32 = 3;
const DT_NEEDED: u64 = 1;

#[derive(Debug, PartialEq)]
struct Linkage {
    interp: bool,
    needed: usize,
}

fn u16_at(b: &[u8], o: usize) -> usize {
    u16::from_le_bytes(b[o..o + 2].try_into().unwrap()) as usize
}
fn u32_at(b: &[u8], o: usize) -> u32 {
    u32::from_le_bytes(b[o..o + 4].try_into().unwrap())
}
fn u64_at(b: &[u8], o: usize) -> u64 {
    u64::from_le_bytes(b[o..o + 8].try_into().unwrap())
}

/// Reads the program headers of a little-endian ELF64 file.
fn linkage(path: &Path) -> Linkage {
    let b = std::fs::read(path).unwrap();
    assert_eq!(&b[..4], b"\x7fELF", "{} is not ELF", path.display());
    assert_eq!((b[4], b[5]), (2, 1), "only little-endian ELF64 is handled");
    let (phoff, phentsize, phnum) = (
        u64_at(&b, 0x20) as usize,
        u16_at(&b, 0x36),
        u16_at(&b, 0x38),
    );
    let mut l = Linkage {
        interp: false,
        needed: 0,
    };
    for i in 0..phnum {
        let ph = phoff + i * phentsize;
        match u32_at(&b, ph) {
            PT_INTERP => l.interp = true,
            PT_DYNAMIC => {
                let (off, size) = (u64_at(&b, ph + 8) as usize, u64_at(&b, ph + 0x20) as usize);
                l.needed += b[off..off + size]
                    .chunks_exact(16)
                    .filter(|d| u64_at(d, 0) == DT_NEEDED)
                    .count();
            }
            _ => {}
        }
    }
    l
}

#[test]
fn probe_is_fully_static() {
    let probe = common::probe_path();
    assert_eq!(
        linkage(probe),
        Linkage {
            interp: false,
            needed: 0
        },
        "{}",
        probe.display()
    );
    let out = std::process::Command::new(probe)
        .arg("--version")
        .output()
        .unwrap();
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).starts_with("parity-probe "));
}

#[test]
fn the_check_catches_a_dynamic_binary() {
    let ls = Path::new("/bin/ls");
    let l = linkage(ls);
    assert!(l.interp && l.needed > 0, "/bin/ls looked static: {l:?}");
}
