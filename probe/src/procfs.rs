//! Reading `/proc` (and other small kernel files) behind the [`ProcFs`]
//! trait, so fact and mount-table parsing is tested against fixed text.
//! [`RealProcFs`] is the only implementation that touches the filesystem.

use std::io;

/// Whole-file reads of kernel text files.
pub trait ProcFs {
    fn read(&self, path: &str) -> io::Result<String>;
}

/// The running system's `/proc`.
pub struct RealProcFs;

impl ProcFs for RealProcFs {
    fn read(&self, path: &str) -> io::Result<String> {
        // std opens with O_CLOEXEC: nothing leaks into the workload.
        std::fs::read(path).map(|b| String::from_utf8_lossy(&b).into_owned())
    }
}

#[cfg(test)]
pub mod fake {
    //! A `/proc` made of fixed strings.
    use super::ProcFs;
    use std::collections::HashMap;
    use std::io;

    #[derive(Default)]
    pub struct FakeProcFs(pub HashMap<String, String>);

    impl FakeProcFs {
        pub fn with(mut self, path: &str, text: &str) -> Self {
            self.0.insert(path.to_owned(), text.to_owned());
            self
        }
    }

    impl ProcFs for FakeProcFs {
        fn read(&self, path: &str) -> io::Result<String> {
            self.0
                .get(path)
                .cloned()
                .ok_or_else(|| io::Error::from_raw_os_error(libc::ENOENT))
        }
    }
}
