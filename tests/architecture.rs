//! Invariants of docs/architecture.md that a test can hold.

use std::path::Path;

fn sources(dir: &Path) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).expect("folder") {
        let path = entry.expect("entry").path();
        if path.is_dir() {
            out.extend(sources(&path));
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push((
                path.display().to_string(),
                std::fs::read_to_string(&path).expect("source"),
            ));
        }
    }
    out
}

#[test]
fn the_engine_imports_no_database_mail_typst_or_http_crate_and_reads_no_clock() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let files = sources(&root.join("src/engine"));
    assert!(files.len() >= 5, "the engine's files were found");
    for (path, text) in files {
        for forbidden in [
            "sqlx::",
            "lettre::",
            "typst::",
            "typst_",
            "axum::",
            "tokio::",
            "::now()",
            "SystemTime",
        ] {
            assert!(!text.contains(forbidden), "{path} mentions `{forbidden}`");
        }
    }
}

#[test]
fn the_language_does_no_io() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    for (path, text) in sources(&root.join("src/dsl")) {
        for forbidden in ["std::fs", "std::net", "File::open", "read_to_string"] {
            assert!(!text.contains(forbidden), "{path} mentions `{forbidden}`");
        }
    }
}
