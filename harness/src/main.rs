//! The `parity` command; everything lives in the library's `cli` module.

use clap::Parser;

fn main() -> std::process::ExitCode {
    let cli = parity::cli::Cli::parse();
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("parity: cannot start the async runtime: {e}");
            return std::process::ExitCode::from(2);
        }
    };
    match runtime.block_on(parity::cli::main(cli)) {
        Ok(code) => std::process::ExitCode::from(code as u8),
        Err(err) => {
            eprintln!("{:?}", miette::Report::new(err));
            std::process::ExitCode::from(2)
        }
    }
}
