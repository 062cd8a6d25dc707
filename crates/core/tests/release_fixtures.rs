//! Stored models stay readable: the payloads each released version wrote, with the scores and
//! explanations that version computed from them on every row (`tests/fixtures/<version>/`, made
//! once by `tests/fixtures/make-release-fixtures` with the release's own build), give the same
//! scores and explanations, bit for bit, with this code.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

use healthml_core::model::TrainedModel;

mod common;
use common::{lines, rows_of};
use serde_json::{Map, Value};

fn float(text: &str) -> f64 {
    text.parse().unwrap_or_else(|e| panic!("{text:?}: {e}"))
}

/// What one version computed: (row id → sorted (feature, value, contribution)) from `explain`.
fn explanations(path: &Path) -> BTreeMap<i64, Vec<(String, String, u64)>> {
    let mut by_row: BTreeMap<i64, Vec<(String, String, u64)>> = BTreeMap::new();
    for line in lines(path) {
        let parts: Vec<&str> = line.splitn(4, '|').collect();
        let [id, feature, value, contribution] = parts[..] else { panic!("{line:?}") };
        by_row.entry(id.parse().unwrap()).or_default().push((feature.into(), value.into(), float(contribution).to_bits()));
    }
    by_row.values_mut().for_each(|v| v.sort());
    by_row
}

#[test]
fn released_payloads_score_and_explain_as_their_release_did() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures");
    // A release's directory is named by its version (format-2/ holds payload_format.rs's goldens).
    let is_release = |p: &Path| p.is_dir() && p.file_name().unwrap().to_string_lossy().starts_with(|c: char| c.is_ascii_digit());
    let mut versions: Vec<PathBuf> = fs::read_dir(&root).unwrap().map(|e| e.unwrap().path()).filter(|p| is_release(p)).collect();
    versions.sort();
    let mut checked = Vec::new();
    for dir in versions {
        let mut payloads: Vec<PathBuf> = fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|x| x == "payload"))
            .collect();
        payloads.sort();
        for payload in payloads {
            let name =
                format!("{}/{}", dir.file_name().unwrap().to_string_lossy(), payload.file_stem().unwrap().to_string_lossy());
            let rows = rows_of(&payload);
            let by_id: BTreeMap<i64, &Map<String, Value>> =
                rows.iter().map(|r| (r["discharge_id"].as_i64().unwrap(), r)).collect();
            let sha = lines(&payload.with_extension("sha256"))[0].split(' ').next().unwrap().to_string();
            let model = TrainedModel::from_payload(&fs::read(&payload).unwrap(), Some(&sha))
                .unwrap_or_else(|e| panic!("{name}: a released payload no longer reads: {e}"));
            let scores = lines(&payload.with_extension("scores"));
            assert_eq!(scores.len(), rows.len(), "{name}");
            for (row, want) in rows.iter().zip(&scores) {
                let got = model.predict_json(row).unwrap();
                assert_eq!(
                    got.to_bits(),
                    float(want).to_bits(),
                    "{name}: row {} scores {got}, the release scored {want}",
                    row["discharge_id"]
                );
            }
            let want = explanations(&payload.with_extension("explanations"));
            assert!(want.len() > 100, "{name}: {} explained rows", want.len());
            for (id, want) in want {
                let e = model.explain_json(by_id[&id]).unwrap();
                let mut got: Vec<(String, String, u64)> = e
                    .top(3)
                    .into_iter()
                    .map(|c| (c.column.clone(), c.value.clone().unwrap_or_else(|| "NULL".into()), c.contribution.to_bits()))
                    .collect();
                got.sort();
                assert_eq!(got, want, "{name}: the explanation of row {id}");
            }
            checked.push(name);
        }
    }
    for kind in ["logistic", "gbdt", "ensemble"] {
        assert!(checked.iter().any(|c| c.ends_with(&format!("/{kind}"))), "no {kind} fixture among {checked:?}");
    }
}
