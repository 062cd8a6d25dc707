//! What the tests of the release fixtures (`tests/fixtures/<release>/`) share.

use std::fs;
use std::path::Path;

use serde_json::{Map, Value};

pub fn lines(path: &Path) -> Vec<String> {
    fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display())).lines().map(str::to_string).collect()
}

/// The rows a payload was scored on: `<model>.rows.jsonl`, or the release's `rows.jsonl`.
pub fn rows_of(payload: &Path) -> Vec<Map<String, Value>> {
    let own = payload.with_extension("rows.jsonl");
    let path = if own.exists() { own } else { payload.with_file_name("rows.jsonl") };
    lines(&path).iter().map(|l| serde_json::from_str::<Value>(l).unwrap().as_object().unwrap().clone()).collect()
}
