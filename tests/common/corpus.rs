//! The kept conversion corpus (`tests/corpus/`) and Atlassian's ADF
//! validator (`tools/adf-validate`), shared by the converter tests and the
//! fidelity report (`benches/fidelity.rs`).

use std::path::{Path, PathBuf};

use serde_json::{Value, json};

/// The documents of one folder of `tests/corpus/`, by file name, in order.
pub fn corpus(folder: &str) -> Vec<(String, String)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/corpus").join(folder);
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir).expect("the corpus").map(|e| e.unwrap().path()).collect();
    files.sort();
    files
        .into_iter()
        .filter(|p| p.extension().is_some_and(|e| e == "md" || e == "json"))
        .map(|p| (p.file_name().unwrap().to_string_lossy().into_owned(), std::fs::read_to_string(&p).unwrap()))
        .collect()
}

/// Runs Atlassian's validator (`@atlaskit/adf-utils`, strict mode) over
/// named documents: one `{"name", "valid", "errors"}` per document, in
/// order. `None` when it is not installed (`npm ci --prefix
/// tools/adf-validate`).
pub fn atlassian_validator(docs: &[(String, Value)]) -> Option<Vec<Value>> {
    use std::io::Write as _;
    let tool = Path::new(env!("CARGO_MANIFEST_DIR")).join("tools/adf-validate");
    if !tool.join("node_modules").exists() {
        return None;
    }
    let input: String = docs.iter().map(|(name, doc)| json!({"name": name, "doc": doc}).to_string() + "\n").collect();
    let mut child = std::process::Command::new("node")
        .arg(tool.join("validate.mjs"))
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("node runs");
    child.stdin.take().expect("stdin").write_all(input.as_bytes()).expect("the validator reads its input");
    let out = child.wait_with_output().expect("the validator finishes");
    assert!(out.status.success(), "the validator ran");
    let results = String::from_utf8(out.stdout).expect("JSON Lines");
    Some(results.lines().map(|l| serde_json::from_str(l).expect("a JSON line")).collect())
}
