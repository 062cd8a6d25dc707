//! Per-row scoring and explaining cost of one stored model on rows of its own features, without
//! PostgreSQL: what benches/run sets beside LightGBM and lleaves scoring the same trees (exported
//! with healthml.export_model) on the same features (healthml.features_row_by_id).
//!
//!   cargo bench -p healthml-core --bench walk -- PAYLOAD_HEX FEATURES_TSV [EXPLAIN_ROWS]
//!
//! PAYLOAD_HEX: the model's payload as psql prints `encode(payload, 'hex')`. FEATURES_TSV: one row
//! per line, the features as a float8[] literal, a tab, anything. Prints one JSON object: the median
//! over 5 passes of µs per row scored, ms per row explained (on 2 threads, the default of
//! `healthml.explain_threads`, and on one), and the sum of the log-odds (so that
//! nothing is optimized away, and a check against another library's scores).

use std::time::Instant;

use healthml_core::model::{Estimator, TrainedModel};

fn main() {
    let args: Vec<String> = std::env::args().skip(1).filter(|a| a != "--bench").collect();
    let [payload, features, rest @ ..] = args.as_slice() else {
        eprintln!("usage: walk PAYLOAD_HEX FEATURES_TSV [EXPLAIN_ROWS]");
        std::process::exit(2);
    };
    let explain_rows: usize = rest.first().map_or(1000, |n| n.parse().expect("EXPLAIN_ROWS is a number"));
    let hex = std::fs::read_to_string(payload).expect("the payload file");
    let hex = hex.trim().trim_start_matches("\\x");
    let bytes: Vec<u8> = (0..hex.len()).step_by(2).map(|i| u8::from_str_radix(&hex[i..i + 2], 16).expect("hex digits")).collect();
    let model = TrainedModel::from_payload(&bytes, None).expect("a healthml payload");
    let rows: Vec<Vec<f64>> = std::fs::read_to_string(features)
        .expect("the features file")
        .lines()
        .map(|line| {
            let array = line.split('\t').next().unwrap_or_default();
            array.trim_matches(|c| c == '{' || c == '}').split(',').map(|v| v.parse().expect("a number")).collect()
        })
        .collect();
    let gbdts: Vec<&healthml_core::model::gbdt::GbdtModel> = match &model.estimator {
        Estimator::Gbdt(g) => vec![g],
        Estimator::Ensemble(members) => {
            members.iter().filter_map(|m| if let Estimator::Gbdt(g) = &m.model.estimator { Some(g) } else { None }).collect()
        }
        Estimator::Logistic(_) => Vec::new(),
    };
    let trees: usize = gbdts.iter().map(|g| g.trees_used()).sum();
    // the first pass builds the scoring layout
    let mut sum = 0.0;
    let mut passes = Vec::new();
    for _ in 0..6 {
        let started = Instant::now();
        sum = rows.iter().map(|r| model.raw_score_features(r)).sum::<f64>();
        passes.push(started.elapsed().as_secs_f64() * 1e6 / rows.len() as f64);
    }
    passes.remove(0);
    passes.sort_by(f64::total_cmp);
    let explain_rows = explain_rows.min(rows.len());
    // on healthml.explain_threads' default (2), then on the calling thread alone
    let explain_ms = |threads: usize| {
        healthml_core::model::set_explain_threads(threads);
        let started = Instant::now();
        for r in &rows[..explain_rows] {
            std::hint::black_box(model.step_contributions(r));
        }
        started.elapsed().as_secs_f64() * 1e3 / explain_rows.max(1) as f64
    };
    // the first explanation reads the leaf paths: not part of a row's cost
    if let Some(first) = rows.first() {
        std::hint::black_box(model.step_contributions(first));
    }
    let (explain_ms, explain_one_thread_ms) = (explain_ms(2), explain_ms(1));
    let layouts: Vec<String> = gbdts.iter().map(|g| format!("\"{}\"", g.scoring_layout())).collect();
    println!(
        "{{\"algorithm\": \"{}\", \"trees\": {trees}, \"layouts\": [{}], \"rows\": {}, \"score_us\": {:.3}, \"explain_ms\": {explain_ms:.4}, \"explain_one_thread_ms\": {explain_one_thread_ms:.4}, \"sum\": {sum}}}",
        model.estimator.algorithm(),
        layouts.join(", "),
        rows.len(),
        passes[passes.len() / 2]
    );
}
