//! Writes the reports of the built-in sample results document into the
//! folder given (default `reports/out/sample`), to look at templates.
fn main() -> std::io::Result<()> {
    let dir = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "reports/out/sample".into());
    parity::report::write_reports(
        std::path::Path::new(&dir),
        &parity::report::fixture::sample(),
    )
}
