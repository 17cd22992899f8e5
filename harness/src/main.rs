//! The `parity` command; everything lives in the library's `cli` module.

use clap::Parser;

fn main() -> std::process::ExitCode {
    let cli = parity::cli::Cli::parse();
    // Off a terminal (CI logs, pipes) an error stays on whole lines, so a
    // path or a message is never cut where a log reader searches for it.
    if !std::io::IsTerminal::is_terminal(&std::io::stderr()) {
        let _ = miette::set_hook(Box::new(|_| {
            Box::new(miette::MietteHandlerOpts::new().wrap_lines(false).build())
        }));
    }
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
