//! Benchmarks that print figures.
pub fn dsl(_input: &crate::dsl::Input, _json: bool) -> std::io::Result<()> {
    Ok(())
}
