//! Payload format 2 is specified in docs/payload-format.md. This pins it from both sides: the
//! models of the release fixtures, written by this code, give exactly the committed bytes of
//! `tests/fixtures/format-2/` (a change to the layout fails here, and calls for a new format number
//! with a reader kept for this one), those bytes score as the release did, and the page names
//! every key a payload holds, and no other.
//!
//! Writing a missing golden payload: `HEALTHML_BLESS=1 cargo test -p healthml-core --test payload_format`.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::PathBuf;

use healthml_core::model::{TrainedModel, PAYLOAD_FORMAT};
use healthml_core::prep::recipe::Step;

mod common;
use serde_json::Value;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// (released payload, its format-2 golden) for every model of the first release's fixtures.
fn goldens() -> Vec<(String, PathBuf, PathBuf)> {
    let released = root().join("tests/fixtures/0.1.0");
    let mut out: Vec<(String, PathBuf, PathBuf)> = fs::read_dir(&released)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "payload"))
        .map(|p| {
            let name = p.file_stem().unwrap().to_string_lossy().to_string();
            let golden = root().join(format!("tests/fixtures/format-2/{name}.payload"));
            (name, p, golden)
        })
        .collect();
    out.sort();
    assert!(out.len() >= 4, "{out:?}");
    out
}

#[test]
fn this_writer_gives_the_committed_bytes_and_they_score_as_released() {
    for (name, released, golden) in goldens() {
        let model = TrainedModel::from_payload(&fs::read(&released).unwrap(), None).unwrap();
        let written = model.to_payload().unwrap();
        assert_eq!(&written[..4], b"HMLM");
        assert_eq!(u16::from_le_bytes([written[4], written[5]]), PAYLOAD_FORMAT);
        if !golden.exists() && std::env::var_os("HEALTHML_BLESS").is_some() {
            fs::create_dir_all(golden.parent().unwrap()).unwrap();
            fs::write(&golden, &written).unwrap();
        }
        let committed = fs::read(&golden).unwrap_or_else(|e| panic!("{}: {e} (see this file's header)", golden.display()));
        assert!(written == committed, "{name}: this code writes other bytes than the committed format-2 payload");

        let read = TrainedModel::from_payload(&committed, None).unwrap();
        let rows = common::rows_of(&released);
        let scores: Vec<f64> =
            fs::read_to_string(released.with_extension("scores")).unwrap().lines().map(|l| l.parse().unwrap()).collect();
        for (row, want) in rows.iter().zip(scores) {
            assert_eq!(read.predict_json(row).unwrap().to_bits(), want.to_bits(), "{name}: {row:?}");
        }
    }
}

/// The keys of every `### \`object\`` table of the page.
fn documented() -> BTreeMap<String, BTreeSet<String>> {
    let page = fs::read_to_string(root().join("docs/payload-format.md")).unwrap();
    let mut out: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let mut current: Option<String> = None;
    for line in page.lines() {
        if let Some(rest) = line.strip_prefix("### `") {
            current = Some(rest.trim_end_matches('`').to_string());
            out.entry(current.clone().unwrap()).or_default();
        } else if line.starts_with("## ") {
            current = None;
        } else if let (Some(object), Some(rest)) = (&current, line.strip_prefix("| `")) {
            let key = rest.split('`').next().unwrap();
            out.get_mut(object).unwrap().insert(key.to_string());
        }
    }
    out
}

fn keys(v: &Value) -> BTreeSet<String> {
    v.as_object().unwrap_or_else(|| panic!("not a map: {v}")).keys().cloned().collect()
}

fn note(seen: &mut BTreeMap<String, BTreeSet<String>>, kind: &str, v: &Value) {
    seen.entry(kind.to_string()).or_default().extend(keys(v));
}

/// Records the keys of a model map and of everything in it, by object kind.
fn walk(model: &Value, seen: &mut BTreeMap<String, BTreeSet<String>>) {
    let mut note = |kind: &str, v: &Value| note(seen, kind, v);
    note("model", model);
    note("recipe", &model["recipe"]);
    for step in model["recipe"]["steps"].as_array().unwrap() {
        note("step", step);
    }
    if !model["calibration"].is_null() {
        note("calibration", &model["calibration"]);
    }
    let estimator = &model["estimator"];
    note("estimator", estimator);
    match estimator["algorithm"].as_str().unwrap() {
        "logistic" => note("logistic", &estimator["model"]),
        "gbdt" => {
            note("gbdt", &estimator["model"]);
            for tree in estimator["model"]["trees"].as_array().unwrap() {
                note("tree", tree);
            }
        }
        "ensemble" => {
            let members = estimator["model"].as_array().unwrap();
            for member in members {
                note("member", member);
            }
            for member in members {
                walk(&member["model"], seen);
            }
        }
        other => panic!("algorithm {other}"),
    }
}

#[test]
fn the_page_names_every_key_a_payload_holds() {
    let documented = documented();
    let mut seen: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (_, _, golden) in goldens() {
        let bytes = fs::read(&golden).unwrap();
        let model: Value = rmp_serde::from_slice(&bytes[6..]).unwrap();
        walk(&model, &mut seen);
    }
    // Every kind of step, whether or not a fixture holds one.
    let steps = [
        Step::Exclude { column: "c".into() },
        Step::Drop { column: "c".into(), reason: "r".into() },
        Step::Numeric { column: "c".into(), impute: 0.0, lower: None, upper: None, log1p: false, center: 0.0, scale: 1.0 },
        Step::Categorical { column: "c".into(), from_number: false, impute: "i".into(), levels: vec![], other: false },
        Step::Frequency { column: "c".into(), from_number: false, impute: "i".into(), levels: vec![], shares: vec![] },
        Step::TargetRate {
            column: "c".into(),
            from_number: false,
            impute: "i".into(),
            levels: vec![],
            rates: vec![],
            prior: 0.0,
        },
        Step::Passthrough { column: "c".into() },
        Step::Codes { column: "c".into(), from_number: true, levels: vec![] },
    ];
    for step in &steps {
        let bytes = rmp_serde::to_vec_named(step).unwrap();
        seen.entry("step".into()).or_default().extend(keys(&rmp_serde::from_slice(&bytes).unwrap()));
    }
    seen.entry("calibration".into()).or_default().extend(["slope".to_string(), "intercept".to_string()]);
    // an imported gbdt's key, which no model trained here writes
    let imported =
        healthml_core::model::gbdt::GbdtModel::imported(0.0, vec![], healthml_core::model::treeshap::Arithmetic::Lightgbm);
    seen.entry("gbdt".into())
        .or_default()
        .extend(keys(&rmp_serde::from_slice(&rmp_serde::to_vec_named(&imported).unwrap()).unwrap()));
    for (kind, keys) in &seen {
        let page = documented.get(kind).unwrap_or_else(|| panic!("docs/payload-format.md has no table for `{kind}`"));
        assert_eq!(keys, page, "`{kind}`: the keys a payload holds (left) against the page's table (right)");
    }
    let undocumented_kinds: Vec<&String> = documented.keys().filter(|k| !seen.contains_key(*k)).collect();
    assert!(undocumented_kinds.is_empty(), "tables without payload objects to check: {undocumented_kinds:?}");
}
