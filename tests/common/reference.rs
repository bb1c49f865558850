//! Atlassian's reference material (the Jira Cloud OpenAPI document, the ADF
//! JSON schema, real webhook deliveries), read in place from
//! `ARKSYNC_REFERENCE_DIR`, else `../shared/reference` beside the checkout.
//! The project never commits a copy. Where the folder is absent (a fresh
//! clone), the checks that need it are skipped with one line saying so;
//! under CI (`CI` set) they are required, and the absence fails the test.

use std::io::Write as _;
use std::path::PathBuf;
use std::sync::Once;

/// The files a complete reference folder holds.
const FILES: &[&str] = &["jira-cloud-platform.swagger-v3.v3.json", "adf-schema-full.v57.7.22.json", "jira-webhooks"];

pub fn dir() -> PathBuf {
    std::env::var_os("ARKSYNC_REFERENCE_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../shared/reference")))
}

pub fn path(name: &str) -> PathBuf {
    dir().join(name)
}

/// Whether the reference folder is absent, so a check that needs it must
/// stop. Says so once per test binary, on the terminal (not captured).
pub fn missing() -> bool {
    let dir = dir();
    let absent: Vec<&str> = FILES.iter().copied().filter(|f| !dir.join(f).exists()).collect();
    if absent.is_empty() {
        return false;
    }
    assert!(
        std::env::var_os("CI").is_none(),
        "CI requires Atlassian's reference files in {} (missing: {}); set ARKSYNC_REFERENCE_DIR",
        dir.display(),
        absent.join(", ")
    );
    static SAID: Once = Once::new();
    SAID.call_once(|| {
        let _ = writeln!(
            std::io::stderr(),
            "note: contract checks skipped: Atlassian's reference files ({}) are not in {}; \
             set ARKSYNC_REFERENCE_DIR to a folder holding them",
            absent.join(", "),
            dir.display()
        );
    });
    true
}
