//! Models trained elsewhere, read into healthml's own layout (docs/reference/models.md).
//!
//! A LightGBM text model (`objective=binary`, one class) becomes a gbdt version whose recipe reads
//! each of the model's features from one source column: numbers as they are (NULL as NaN, which
//! the trees route as LightGBM does), or a text column's level as its position in a list of levels
//! (pandas' category codes). What changes on the way, and why scores stay equal:
//! - LightGBM sends a row left when `value <= threshold`, healthml when `value < threshold`: each
//!   threshold t becomes the smallest double above t, the same test on every double.
//! - Missing type NaN: a NaN goes the `default_left` way. Missing type None: LightGBM reads NaN as
//!   0.0, so a NaN goes where 0.0 goes. Missing type Zero (zero and NaN both take the default
//!   way) is refused: it would need a test healthml's nodes do not have.
//! - A threshold may be +inf (LightGBM's split of NaN from every number): LightGBM sends +inf
//!   left there, and `<` cannot, so the recipe reads +inf as the largest double, which every
//!   split sends the way LightGBM sends +inf.
//! - Leaves are summed in f64 in tree order from a base of 0, as LightGBM's `predict` does.
//! - TreeSHAP weighs paths by LightGBM's data counts (`leaf_count`, `internal_count`) and runs in
//!   f64, as LightGBM's `pred_contrib` does.
//!
//! An XGBoost JSON model (`binary:logistic`) is read the same way, and reproduced in XGBoost's f32
//! arithmetic (see `Arithmetic::Xgboost`): its f32 split conditions become f64 thresholds through
//! [`below_f32`], its leaves are added in f32 from its f32 logit of `base_score`.

use std::collections::{BTreeMap, HashMap, HashSet};

use serde_json::{json, Value};

use crate::error::{Error, ErrorClass, Result};
use crate::frame::{ColumnData, Frame};
use crate::metrics::{self, metrics_to_json};
use crate::model::gbdt::GbdtModel;
use crate::model::sha256_hex;
use crate::model::tree::Tree;
use crate::model::treeshap::Arithmetic;
use crate::model::{Estimator, TrainedModel};
use crate::monitor;
use crate::options::Options;
use crate::prep::recipe::{Recipe, Step, RECIPE_FORMAT};
use crate::train::{fingerprint, target_labels, TrainOutcome, IMPORTANCE_ROWS};

/// How the model's features are read from a relation's columns.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ImportOptions {
    /// Model feature name → source column (a feature not named reads the column of its own name).
    pub columns: BTreeMap<String, String>,
    /// Source column → its levels in code order: the column is text and the model reads codes.
    pub levels: BTreeMap<String, Vec<String>>,
    /// Probability at or above which a row is flagged.
    pub threshold: f64,
    pub description: Option<String>,
    pub tags: Vec<String>,
    /// A relation to compute metrics and the drift reference on.
    pub evaluate_on: Option<String>,
    /// The boolean outcome column (needed with `evaluate_on`; kept for `evaluate` and the like).
    pub target: Option<String>,
}

impl ImportOptions {
    pub fn from_json(options: &Value) -> Result<Self> {
        let mut o = Options::new("import_model", options)?;
        let columns = string_map(o.raw("columns"), "columns", |v| v.as_str().map(str::to_string))?;
        let levels = string_map(o.raw("levels"), "levels", |v| {
            v.as_array()?.iter().map(|l| l.as_str().map(str::to_string)).collect::<Option<Vec<_>>>()
        })?;
        for (column, list) in &levels {
            let distinct: HashSet<&String> = list.iter().collect();
            if list.is_empty() || distinct.len() != list.len() {
                return Err(Error::invalid_parameter(format!(
                    "the levels of column \"{column}\" must be distinct and not empty"
                ))
                .with_hint("list the levels in the order the model's codes number them: code 0 first"));
            }
        }
        let threshold = o.f64_in("threshold", 0.5, 0.0, 1.0)?;
        let description = o.raw("description").and_then(|v| v.as_str().map(str::to_string));
        let tags = o.strings("tags")?;
        let evaluate_on = o.raw("evaluate_on").and_then(|v| v.as_str().map(str::to_string));
        let target = o.raw("target").and_then(|v| v.as_str().map(str::to_string));
        o.finish()?;
        if evaluate_on.is_some() && target.is_none() {
            return Err(Error::invalid_parameter("evaluate_on needs target")
                .with_hint("name the relation's boolean outcome column, e.g. {\"evaluate_on\": \"readmission.cohort\", \"target\": \"readmitted_30d\"}"));
        }
        Ok(ImportOptions { columns, levels, threshold, description, tags, evaluate_on, target })
    }
}

fn string_map<T>(value: Option<Value>, key: &str, item: impl Fn(&Value) -> Option<T>) -> Result<BTreeMap<String, T>> {
    let Some(value) = value else { return Ok(BTreeMap::new()) };
    let bad = || {
        Error::invalid_parameter(format!("option \"{key}\" must be an object")).with_hint(if key == "columns" {
            "map model feature names to columns, e.g. {\"columns\": {\"f0\": \"age\"}}"
        } else {
            "map text columns to their levels in code order, e.g. {\"levels\": {\"gender\": [\"Female\", \"Male\"]}}"
        })
    };
    let object = value.as_object().ok_or_else(bad)?;
    object.iter().map(|(k, v)| Ok((k.clone(), item(v).ok_or_else(bad)?))).collect()
}

/// An imported model as a version to store: its payload, and, measured on `evaluation` (a relation
/// as a frame, its name, its target column) when one is given, its metrics, importance and the
/// distributions drift compares with. Imported models are never calibrated or re-thresholded:
/// they score exactly as the library that trained them.
pub fn imported_version(
    mut model: TrainedModel,
    format: &str,
    text: &str,
    evaluation: Option<(&Frame, &str, &str)>,
) -> Result<TrainOutcome> {
    let trees = match &model.estimator {
        Estimator::Gbdt(g) => g.trees_used(),
        _ => 0,
    };
    let mut metrics = json!({"imported": {"format": format, "trees": trees, "features": model.features.len()}});
    let mut reference = Value::Null;
    let mut fingerprint_of = sha256_hex(text.as_bytes());
    let mut rows = 0;
    if let Some((frame, source, target)) = evaluation {
        let column = frame.column(target).ok_or_else(|| {
            Error::new(ErrorClass::UndefinedColumn, format!("{source} has no column \"{target}\""))
                .with_hint("option \"target\" names the relation's boolean outcome column")
        })?;
        let labels = target_labels(frame, column, None, source)?;
        for step in &model.recipe.steps {
            if let (Step::Passthrough { column }, Some(c)) = (step, frame.column(step.column())) {
                if !matches!(c.data, ColumnData::Numeric(_)) {
                    return Err(Error::new(ErrorClass::DatatypeMismatch, format!("column \"{column}\" of {source} is not a number"))
                        .with_hint(format!("a model feature reads it: give its levels in code order, e.g. {{\"levels\": {{\"{column}\": [\"a\", \"b\"]}}}}")));
                }
            }
        }
        let features = model.features_of_frame(frame)?;
        let scores: Vec<f64> =
            model.raw_scores_from_features(&features, frame.rows()).into_iter().map(|z| model.probability(z)).collect();
        let (labelled, labelled_scores): (Vec<bool>, Vec<f64>) =
            labels.iter().zip(&scores).filter_map(|(l, &s)| l.map(|l| (l, s))).unzip();
        if labelled.is_empty() {
            return Err(Error::new(ErrorClass::InsufficientData, format!("{source} has no labelled rows"))
                .with_hint("rows need a non-NULL target"));
        }
        let sample: Vec<usize> = (0..frame.rows().min(IMPORTANCE_ROWS)).collect();
        let inputs: Vec<(String, bool)> = model.recipe.steps.iter().map(|s| (s.column().to_string(), s.is_numeric())).collect();
        reference = serde_json::to_value(monitor::reference(frame, &inputs, &scores)?).unwrap_or(Value::Null);
        metrics["test"] = metrics_to_json(&metrics::evaluate(&labelled, &labelled_scores, model.threshold));
        metrics["evaluated_on"] = json!(source);
        metrics["importance"] = json!(model.importance(&features, &sample));
        metrics["importance_rows"] = json!(sample.len());
        // The relation's other columns are known and ignored, as a trained model's are: a jsonb
        // row of the relation scores, a misspelt key is still refused.
        let read: HashSet<String> = model.recipe.source_columns().map(str::to_string).collect();
        for c in frame.columns.iter().filter(|c| !read.contains(&c.name)) {
            model.recipe.steps.push(Step::Exclude { column: c.name.clone() });
        }
        model.recipe.source = source.to_string();
        model.recipe.rows = frame.rows() as u64;
        fingerprint_of = fingerprint(frame);
        rows = labelled.len();
    }
    let payload = model.to_payload()?;
    Ok(TrainOutcome {
        sha256: sha256_hex(&payload),
        payload,
        metrics,
        hyperparams: json!({"imported_from": format, "trees": trees}),
        train_rows: 0,
        test_rows: rows,
        fingerprint: fingerprint_of,
        reference,
        model,
        // Its training data never reached healthml, and `evaluate_on` may be that very data: a
        // high AUC there says nothing about leakage.
        guardrails: Vec::new(),
    })
}

fn bad_model(message: impl Into<String>) -> Error {
    Error::new(ErrorClass::BadFileFormat, message)
}

/// The formats `import_model` reads.
pub const FORMATS: &[&str] = &["lightgbm", "xgboost"];

/// A model in `format`, read as a gbdt version with its recipe.
pub fn import_model(format: &str, model: &str, options: &ImportOptions) -> Result<TrainedModel> {
    match format {
        "lightgbm" => from_lightgbm_text(model, options),
        "xgboost" => from_xgboost_json(model, options),
        other => Err(Error::invalid_parameter(format!("unknown model format \"{other}\""))
            .with_hint(format!("use one of: {}", FORMATS.join(", ")))),
    }
}

/// A LightGBM text model (`Booster.save_model` / `model_to_string`).
pub fn from_lightgbm_text(text: &str, options: &ImportOptions) -> Result<TrainedModel> {
    let text = text.replace("\r\n", "\n");
    if !text.starts_with("tree\n") {
        return Err(bad_model("the model is not a LightGBM text model (it does not start with \"tree\")")
            .with_hint("pass the text of Booster.model_to_string() or of a file written by Booster.save_model()"));
    }
    if !text.contains("\nend of trees") {
        return Err(bad_model("the LightGBM model is truncated: \"end of trees\" is missing")
            .with_hint("pass the whole model text, up to and including \"end of trees\""));
    }
    let body = &text[..text.find("\nend of trees").unwrap_or(text.len())];
    let mut blocks = body.split("\nTree=");
    let header = key_values(blocks.next().unwrap_or(""));
    let get = |key: &str| header.get(key).copied();
    if let Some(version) = get("version") {
        if !matches!(version, "v2" | "v3" | "v4") {
            return Err(bad_model(format!("LightGBM model version {version} is not supported"))
                .with_hint("healthml reads LightGBM text models of versions v2 to v4 (LightGBM 2.x to 4.x)"));
        }
    }
    let num_class: usize = get("num_class").unwrap_or("1").trim().parse().unwrap_or(0);
    let per_iteration: usize = get("num_tree_per_iteration").unwrap_or("1").trim().parse().unwrap_or(0);
    if num_class != 1 || per_iteration != 1 {
        return Err(Error::new(ErrorClass::FeatureNotSupported, format!("the LightGBM model has {num_class} classes"))
            .with_hint("healthml imports binary classifiers (objective=binary); train one model per class instead"));
    }
    let objective = get("objective").unwrap_or("");
    let mut words = objective.split_whitespace();
    if words.next() != Some("binary") {
        return Err(Error::new(ErrorClass::FeatureNotSupported, format!("LightGBM objective \"{objective}\" is not supported"))
            .with_hint("healthml imports binary classifiers: train with objective=\"binary\""));
    }
    if let Some(sigmoid) = words.find_map(|w| w.strip_prefix("sigmoid:")) {
        if sigmoid.parse::<f64>().ok() != Some(1.0) {
            return Err(Error::new(ErrorClass::FeatureNotSupported, format!("LightGBM sigmoid {sigmoid} is not supported"))
                .with_hint("train with the default sigmoid=1.0"));
        }
    }
    if header.contains_key("average_output") {
        return Err(Error::new(ErrorClass::FeatureNotSupported, "LightGBM random forests (boosting=rf) are not supported")
            .with_hint("import a gradient-boosted model (boosting=gbdt)"));
    }
    let names: Vec<String> = get("feature_names")
        .ok_or_else(|| bad_model("the LightGBM model has no feature_names line").with_hint("pass the whole model text"))?
        .split_whitespace()
        .map(str::to_string)
        .collect();
    if names.is_empty() {
        return Err(bad_model("the LightGBM model has no features").with_hint("pass the whole model text"));
    }
    let mut trees = Vec::new();
    for block in blocks {
        let index = block.lines().next().unwrap_or("").trim().to_string();
        let tree = lightgbm_tree(block, names.len()).map_err(|e| e.context(format!("tree {index} of the LightGBM model")))?;
        trees.push(tree);
    }
    if trees.is_empty() {
        return Err(bad_model("the LightGBM model has no trees").with_hint("train at least one boosting round"));
    }
    let recipe = recipe_for(&names, options)?;
    let gbdt = GbdtModel::imported(0.0, trees, Arithmetic::Lightgbm);
    gbdt.check(names.len()).map_err(|m| bad_model(format!("the LightGBM model's trees cannot be read: {m}")))?;
    let features = recipe.feature_names();
    Ok(TrainedModel { recipe, features, estimator: Estimator::Gbdt(gbdt), threshold: options.threshold, calibration: None })
}

/// An XGBoost model saved as JSON (`Booster.save_model("m.json")`, `binary:logistic`).
pub fn from_xgboost_json(text: &str, options: &ImportOptions) -> Result<TrainedModel> {
    let damaged = |what: &str| {
        bad_model(format!("the XGBoost model {what}")).with_hint("pass the whole JSON of Booster.save_model(\"model.json\")")
    };
    let json: Value = serde_json::from_str(text).map_err(|e| {
        bad_model(format!("the model is not XGBoost JSON: {e}"))
            .with_hint("pass the text of a file written by Booster.save_model(\"model.json\") (JSON, not UBJSON)")
    })?;
    let learner = &json["learner"];
    if !learner.is_object() {
        return Err(damaged("has no \"learner\""));
    }
    let unsupported =
        |message: String, hint: &str| Error::new(ErrorClass::FeatureNotSupported, message).with_hint(hint.to_string());
    let objective = learner["objective"]["name"].as_str().unwrap_or("");
    if objective != "binary:logistic" {
        return Err(unsupported(
            format!("XGBoost objective \"{objective}\" is not supported"),
            "healthml imports binary classifiers: train with objective=\"binary:logistic\"",
        ));
    }
    let param = &learner["learner_model_param"];
    let number = |key: &str| param[key].as_str().and_then(|v| v.trim().parse::<f64>().ok());
    if number("num_class").unwrap_or(0.0) > 1.0 || number("num_target").unwrap_or(1.0) != 1.0 {
        return Err(unsupported(
            "the XGBoost model has more than one class or target".into(),
            "healthml imports binary classifiers: train one model per class instead",
        ));
    }
    let booster = &learner["gradient_booster"];
    if booster["name"].as_str() != Some("gbtree") {
        return Err(unsupported(
            format!("XGBoost booster \"{}\" is not supported", booster["name"].as_str().unwrap_or("")),
            "import a model trained with booster=\"gbtree\" (not dart or gblinear)",
        ));
    }
    // base_score is a probability ("[4.485E-1]" since 2.1, "4.485E-1" before): the margin every row
    // starts from is XGBoost's Logit of it, in f32
    let base_text = param["base_score"].as_str().ok_or_else(|| damaged("has no base_score"))?;
    let base_probability: f32 =
        base_text.trim_matches(|c| c == '[' || c == ']').trim().parse().map_err(|_| damaged("has an unreadable base_score"))?;
    if !(base_probability > 0.0 && base_probability < 1.0) {
        return Err(damaged(&format!("has base_score {base_probability}, not a probability")));
    }
    let base_margin = -(1.0f32 / base_probability - 1.0).ln();
    let n_features = number("num_feature").ok_or_else(|| damaged("has no num_feature"))? as usize;
    let names: Vec<String> = match learner["feature_names"].as_array() {
        Some(names) if !names.is_empty() => names.iter().map(|n| n.as_str().unwrap_or("").to_string()).collect(),
        _ => (0..n_features).map(|i| format!("f{i}")).collect(),
    };
    if names.len() != n_features || names.iter().any(String::is_empty) {
        return Err(damaged(&format!("names {} features of {n_features}", names.len())));
    }
    let trees_json = booster["model"]["trees"].as_array().ok_or_else(|| damaged("has no trees"))?;
    if trees_json.is_empty() {
        return Err(bad_model("the XGBoost model has no trees").with_hint("train at least one boosting round"));
    }
    let mut trees = Vec::with_capacity(trees_json.len());
    for (t, tree) in trees_json.iter().enumerate() {
        trees.push(xgboost_tree(tree, n_features).map_err(|e| e.context(format!("tree {t} of the XGBoost model")))?);
    }
    let recipe = recipe_for(&names, options)?;
    let gbdt = GbdtModel::imported(f64::from(base_margin), trees, Arithmetic::Xgboost);
    gbdt.check(names.len()).map_err(|m| bad_model(format!("the XGBoost model's trees cannot be read: {m}")))?;
    let features = recipe.feature_names();
    Ok(TrainedModel { recipe, features, estimator: Estimator::Gbdt(gbdt), threshold: options.threshold, calibration: None })
}

/// One XGBoost tree as healthml's, depth first from the root. XGBoost compares the f32 of a value
/// with an f32 split condition; each condition becomes the f64 threshold below which exactly the
/// values whose f32 is below it fall.
fn xgboost_tree(tree: &Value, n_features: usize) -> Result<Tree> {
    let damaged = |what: String| bad_model(what).with_hint("the model JSON is damaged: save it again from XGBoost");
    let array = |key: &str| tree[key].as_array().ok_or_else(|| damaged(format!("\"{key}\" is missing")));
    let integers = |key: &str| -> Result<Vec<i64>> {
        array(key)?.iter().map(|v| v.as_i64().ok_or_else(|| damaged(format!("\"{key}\" holds {v}")))).collect()
    };
    // f32 values written as JSON numbers: read as the f32 they were
    let floats = |key: &str| -> Result<Vec<f32>> {
        array(key)?.iter().map(|v| v.as_f64().map(|x| x as f32).ok_or_else(|| damaged(format!("\"{key}\" holds {v}")))).collect()
    };
    let left = integers("left_children")?;
    let right = integers("right_children")?;
    let split_index = integers("split_indices")?;
    let condition = floats("split_conditions")?;
    // 0/1 as XGBoost writes it now; the schema of its first JSON models (1.0) says booleans
    let default_left: Vec<i64> = array("default_left")?
        .iter()
        .map(|v| v.as_i64().or_else(|| v.as_bool().map(i64::from)).ok_or_else(|| damaged(format!("\"default_left\" holds {v}"))))
        .collect::<Result<_>>()?;
    let hessian = floats("sum_hessian")?;
    let gain = floats("loss_changes")?;
    let base_weights = floats("base_weights")?;
    let split_type = if tree["split_type"].is_array() { integers("split_type")? } else { vec![0; left.len()] };
    let n = left.len();
    for (key, len) in [
        ("right_children", right.len()),
        ("split_indices", split_index.len()),
        ("split_conditions", condition.len()),
        ("default_left", default_left.len()),
        ("sum_hessian", hessian.len()),
        ("loss_changes", gain.len()),
        ("base_weights", base_weights.len()),
        ("split_type", split_type.len()),
    ] {
        if len != n {
            return Err(damaged(format!("\"{key}\" has {len} values for {n} nodes")));
        }
    }
    if n == 0 {
        return Err(damaged("it has no nodes".into()));
    }
    depth_first(0usize, n, |node| {
        if left[node] == -1 {
            return Ok(Node::Leaf { value: f64::from(condition[node]), cover: f64::from(hessian[node]) });
        }
        if split_type[node] != 0 {
            return Err(Error::new(ErrorClass::FeatureNotSupported, format!("node {node} is a categorical split")).with_hint(
                "train with enable_categorical=False on integer codes, and give the codes' levels in the \"levels\" option",
            ));
        }
        let feature = split_index[node];
        if feature < 0 || feature as usize >= n_features {
            return Err(damaged(format!("node {node} splits feature {feature} of {n_features}")));
        }
        if condition[node].is_nan() {
            return Err(damaged(format!("node {node} splits at NaN")));
        }
        let child = |c: i64| -> Result<usize> {
            usize::try_from(c).ok().filter(|&c| c < n && c != 0).ok_or_else(|| damaged(format!("node {node} has child {c}")))
        };
        Ok(Node::Split {
            feature: feature as i32,
            threshold: below_f32(condition[node]),
            value: f64::from(base_weights[node]),
            cover: f64::from(hessian[node]),
            gain: f64::from(gain[node]),
            missing_left: default_left[node] != 0,
            children: (child(left[node])?, child(right[node])?),
        })
    })
    .map_err(|e| if e.hint().is_none() { e.with_hint("the model JSON is damaged: save it again from XGBoost") } else { e })
}

/// The f64 threshold `t` such that, for every f64 `v` that is not NaN, `v < t` exactly when
/// `(v as f32) < condition` (the f32 a value rounds to, to nearest, ties to even, as XGBoost
/// reads its input).
pub(crate) fn below_f32(condition: f32) -> f64 {
    if condition == f32::NEG_INFINITY {
        return f64::NEG_INFINITY;
    }
    // (v as f32) < condition  ⇔  v rounds to `below` or lower  ⇔  v is below the midpoint of
    // `below` and `condition`, or on it when the tie rounds down (to `below`'s even mantissa)
    let below = condition.next_down();
    // the f32 overflow boundary: f32::MAX plus half its ulp (2^103); on it a value rounds to the
    // infinity (even mantissa), as the rule below says
    let overflow = f64::from(f32::MAX) + 2f64.powi(103);
    let midpoint = if condition == f32::INFINITY {
        overflow
    } else if below == f32::NEG_INFINITY {
        -overflow
    } else {
        (f64::from(below) + f64::from(condition)) / 2.0
    };
    if below.to_bits() & 1 == 0 {
        midpoint.next_up()
    } else {
        midpoint
    }
}

/// `key=value` lines (a line without `=` is ignored).
fn key_values(block: &str) -> HashMap<&str, &str> {
    block.lines().filter_map(|line| line.split_once('=')).collect()
}

fn numbers<T: std::str::FromStr>(fields: &HashMap<&str, &str>, key: &str, expected: usize) -> Result<Vec<T>> {
    let line =
        fields.get(key).ok_or_else(|| bad_model(format!("\"{key}\" is missing")).with_hint("pass the whole model text"))?;
    let values: Vec<T> = line
        .split_whitespace()
        .map(|v| v.parse::<T>().map_err(|_| bad_model(format!("\"{key}\" holds \"{v}\", not a number"))))
        .collect::<Result<_>>()?;
    if values.len() != expected {
        return Err(bad_model(format!("\"{key}\" has {} values where {expected} are expected", values.len()))
            .with_hint("the model text is damaged: save it again from LightGBM"));
    }
    Ok(values)
}

/// One `Tree=` block as healthml's tree: inner nodes and leaves in depth-first order from the root.
fn lightgbm_tree(block: &str, n_features: usize) -> Result<Tree> {
    let fields = key_values(block);
    let leaves: usize = fields
        .get("num_leaves")
        .and_then(|v| v.trim().parse().ok())
        .filter(|&n| n >= 1)
        .ok_or_else(|| bad_model("num_leaves is missing or not a positive number").with_hint("pass the whole model text"))?;
    if fields.get("is_linear").is_some_and(|v| v.trim() != "0") {
        return Err(Error::new(ErrorClass::FeatureNotSupported, "linear trees (linear_tree=true) are not supported")
            .with_hint("train with linear_tree=false"));
    }
    let leaf_value: Vec<f64> = numbers(&fields, "leaf_value", leaves)?;
    if leaves == 1 {
        return depth_first((), 1, |()| Ok(Node::Leaf { value: leaf_value[0], cover: 1.0 }));
    }
    let inner = leaves - 1;
    let split_feature: Vec<i64> = numbers(&fields, "split_feature", inner)?;
    let threshold: Vec<f64> = numbers(&fields, "threshold", inner)?;
    let decision_type: Vec<u32> = numbers(&fields, "decision_type", inner)?;
    let left_child: Vec<i64> = numbers(&fields, "left_child", inner)?;
    let right_child: Vec<i64> = numbers(&fields, "right_child", inner)?;
    let leaf_count: Vec<f64> = numbers(&fields, "leaf_count", leaves)?;
    let internal_count: Vec<f64> = numbers(&fields, "internal_count", inner)?;
    let internal_value: Vec<f64> =
        if fields.contains_key("internal_value") { numbers(&fields, "internal_value", inner)? } else { vec![0.0; inner] };
    let split_gain: Vec<f64> =
        if fields.contains_key("split_gain") { numbers(&fields, "split_gain", inner)? } else { vec![0.0; inner] };
    let damaged = |message: String| bad_model(message).with_hint("the model text is damaged: save it again from LightGBM");
    // LightGBM numbers a child ≥ 0 as an inner node and ~leaf (negative) as a leaf.
    #[derive(Clone, Copy)]
    enum Child {
        Inner(usize),
        Leaf(usize),
    }
    let child = |c: i64| -> Result<Child> {
        if c > 0 && (c as usize) < inner {
            Ok(Child::Inner(c as usize))
        } else if c < 0 && ((!c) as usize) < leaves {
            Ok(Child::Leaf((!c) as usize))
        } else {
            Err(damaged(format!("a node has child {c}")))
        }
    };
    let tree = depth_first(Child::Inner(0), leaves + inner, |node| {
        let k = match node {
            Child::Leaf(l) => return Ok(Node::Leaf { value: leaf_value[l], cover: leaf_count[l] }),
            Child::Inner(k) => k,
        };
        let feature = split_feature[k];
        if feature < 0 || feature as usize >= n_features {
            return Err(damaged(format!("node {k} splits feature {feature} of {n_features}")));
        }
        let kind = decision_type[k];
        if kind & 1 != 0 {
            return Err(Error::new(ErrorClass::FeatureNotSupported, format!("node {k} is a categorical split")).with_hint(
                "train with categorical_feature=[] on integer codes, and give the codes' levels in the \"levels\" option",
            ));
        }
        let t = threshold[k];
        if t.is_nan() {
            return Err(bad_model(format!("node {k} splits at NaN"))
                .with_hint("a LightGBM threshold is a number: the model text is damaged"));
        }
        let missing_left = match (kind >> 2) & 3 {
            // None: LightGBM reads NaN as 0.0
            0 => 0.0 <= t,
            2 => kind & 2 != 0,
            1 => {
                return Err(Error::new(
                    ErrorClass::FeatureNotSupported,
                    format!("node {k} treats zero as missing (missing type Zero)"),
                )
                .with_hint("train with zero_as_missing=false (the default), so missing values are NaN"))
            }
            other => return Err(damaged(format!("node {k} has missing type {other}"))),
        };
        Ok(Node::Split {
            feature: feature as i32,
            // value <= t  ⇔  value < the smallest double above t
            threshold: t.next_up(),
            value: internal_value[k],
            cover: internal_count[k],
            gain: split_gain[k],
            missing_left,
            children: (child(left_child[k])?, child(right_child[k])?),
        })
    })?;
    if tree.len() != leaves + inner {
        return Err(damaged(format!("the tree reaches {} of its {} nodes", tree.len(), leaves + inner)));
    }
    Ok(tree)
}

/// A node of a tree being read, as the library describes it; `N` names a node in its numbering.
enum Node<N> {
    Leaf { value: f64, cover: f64 },
    Split { feature: i32, threshold: f64, value: f64, cover: f64, gain: f64, missing_left: bool, children: (N, N) },
}

/// Builds a tree in healthml's layout depth first from `root`, so that every child comes after its
/// node, from what `read` says of each node; more than `max_nodes` nodes means the library's
/// children form a cycle.
fn depth_first<N: Copy>(root: N, max_nodes: usize, mut read: impl FnMut(N) -> Result<Node<N>>) -> Result<Tree> {
    let mut tree = Tree::default();
    // (node, its parent and whether it is the parent's left child)
    let mut stack = vec![(root, None::<(usize, bool)>)];
    let mut missing_left = Vec::new();
    while let Some((node, parent)) = stack.pop() {
        if tree.len() >= max_nodes {
            return Err(bad_model("the tree's children form a cycle")
                .with_hint("the model is damaged: save it again from the library that trained it"));
        }
        let index = tree.len();
        if let Some((p, is_left)) = parent {
            *(if is_left { &mut tree.left[p] } else { &mut tree.right[p] }) = index as u32;
        }
        let (feature, threshold, value, cover, gain) = match read(node)? {
            Node::Leaf { value, cover } => (-1, 0.0, value, cover, 0.0),
            Node::Split { feature, threshold, value, cover, gain, missing_left: left_missing, children: (l, r) } => {
                missing_left.push((index, left_missing));
                stack.push((r, Some((index, false))));
                stack.push((l, Some((index, true))));
                (feature, threshold, value, cover, gain)
            }
        };
        tree.feature.push(feature);
        tree.threshold.push(threshold);
        tree.left.push(0);
        tree.right.push(0);
        tree.missing.push(0);
        tree.value.push(value);
        tree.cover.push(cover);
        tree.gain.push(gain);
    }
    // the missing child is the left or the right one, numbered only now
    for (node, left) in missing_left {
        tree.missing[node] = if left { tree.left[node] } else { tree.right[node] };
    }
    Ok(tree)
}

/// One step per model feature, in the model's feature order: the column it reads, as a number or
/// as a level's code.
fn recipe_for(names: &[String], options: &ImportOptions) -> Result<Recipe> {
    let known: HashSet<&String> = names.iter().collect();
    if let Some(unknown) = options.columns.keys().find(|k| !known.contains(k)) {
        return Err(Error::new(ErrorClass::UndefinedColumn, format!("the model has no feature \"{unknown}\""))
            .with_hint(format!("the model's features are: {}", names.join(", "))));
    }
    let mut seen = HashSet::new();
    let mut steps = Vec::with_capacity(names.len());
    for name in names {
        let column = options.columns.get(name).unwrap_or(name).clone();
        if !seen.insert(column.clone()) {
            return Err(Error::invalid_parameter(format!("column \"{column}\" feeds more than one feature of the model"))
                .with_hint("map each model feature to its own column with the \"columns\" option"));
        }
        steps.push(match options.levels.get(&column) {
            Some(levels) => Step::Codes { column, from_number: true, levels: levels.clone() },
            None => Step::Passthrough { column },
        });
    }
    if let Some(unused) = options.levels.keys().find(|c| !seen.contains(*c)) {
        return Err(Error::new(
            ErrorClass::UndefinedColumn,
            format!("option \"levels\" names column \"{unused}\", which no feature reads"),
        )
        .with_hint("name the source column a feature reads (after the \"columns\" mapping)"));
    }
    Ok(Recipe { format: RECIPE_FORMAT, source: "imported".into(), rows: 0, steps, level_index: Default::default() })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::lightgbm::to_lightgbm_text;
    use crate::model::tree::random::{random_rows, random_tree, Lcg};

    fn options() -> ImportOptions {
        ImportOptions { threshold: 0.5, ..Default::default() }
    }

    #[test]
    fn an_exported_gbdt_reads_back_with_the_same_scores() {
        let n_features = 5;
        let mut rng = Lcg(17);
        let trees: Vec<Tree> = (0..20).map(|_| random_tree(&mut rng, n_features, 5, false)).collect();
        let recipe = Recipe {
            format: RECIPE_FORMAT,
            source: "t".into(),
            rows: 0,
            steps: (0..n_features).map(|i| Step::Passthrough { column: format!("c{i}") }).collect(),
            level_index: Default::default(),
        };
        let original = TrainedModel {
            features: recipe.feature_names(),
            recipe,
            estimator: Estimator::Gbdt(GbdtModel::new(-0.7, trees)),
            threshold: 0.5,
            calibration: None,
        };
        let text = to_lightgbm_text(&original).unwrap();
        let imported = from_lightgbm_text(&text, &options()).unwrap();
        for row in random_rows(&mut rng, n_features, 300) {
            let raw = imported.raw_score_features(&row);
            assert_eq!(raw.to_bits(), original.raw_score_features(&row).to_bits(), "{row:?}");
            // explained in f64: base + contributions is the raw score to rounding
            let Estimator::Gbdt(g) = &imported.estimator else { unreachable!() };
            let (base, contributions) = g.contributions(&row);
            let total = base + contributions.iter().sum::<f64>();
            assert!((total - raw).abs() <= 1e-12 * raw.abs().max(1.0), "{total} against {raw}");
        }
    }

    #[test]
    fn missing_type_none_sends_nan_where_zero_goes() {
        let text = "tree\nversion=v4\nnum_class=1\nnum_tree_per_iteration=1\nmax_feature_idx=0\nobjective=binary sigmoid:1\nfeature_names=x\n\nTree=0\nnum_leaves=2\nnum_cat=0\nsplit_feature=0\nsplit_gain=1\nthreshold=-0.5\ndecision_type=0\nleft_child=-1\nright_child=-2\nleaf_value=1 2\nleaf_weight=1 1\nleaf_count=3 5\ninternal_value=0\ninternal_weight=2\ninternal_count=8\nis_linear=0\nshrinkage=1\n\n\nend of trees\n";
        let m = from_lightgbm_text(text, &options()).unwrap();
        assert_eq!(m.raw_score_features(&[-0.5]), 1.0, "<= threshold goes left");
        assert_eq!(m.raw_score_features(&[-0.4]), 2.0);
        assert_eq!(m.raw_score_features(&[f64::NAN]), 2.0, "NaN is read as 0.0, which goes right");
        let zero = text.replace("decision_type=0", "decision_type=4");
        let e = from_lightgbm_text(&zero, &options()).unwrap_err();
        assert!(e.message().contains("missing type Zero") && e.hint().unwrap().contains("zero_as_missing"), "{}", e.message());
        let categorical = text.replace("decision_type=0", "decision_type=1");
        assert_eq!(from_lightgbm_text(&categorical, &options()).unwrap_err().class(), ErrorClass::FeatureNotSupported);
        // LightGBM splits NaN from every number at +inf: a number goes left, +inf too (the recipe
        // reads +inf as the largest double, which is below it)
        let all_left = text.replace("threshold=-0.5", "threshold=inf").replace("decision_type=0", "decision_type=8");
        let m = from_lightgbm_text(&all_left, &options()).unwrap();
        use crate::prep::recipe::Cell;
        for (cell, leaf) in [(Cell::Number(f64::INFINITY), 1.0), (Cell::Number(1e300), 1.0), (Cell::Null, 2.0)] {
            assert_eq!(m.raw_score_features(&m.features_of_cells(&[cell])), leaf, "{cell:?}");
        }
        let nan = text.replace("threshold=-0.5", "threshold=nan");
        assert_eq!(from_lightgbm_text(&nan, &options()).unwrap_err().class(), ErrorClass::BadFileFormat);
        let truncated = &text[..text.len() - 20];
        assert!(from_lightgbm_text(truncated, &options()).unwrap_err().message().contains("truncated"));
        let multiclass = text.replace("num_class=1", "num_class=3");
        assert!(from_lightgbm_text(&multiclass, &options()).unwrap_err().message().contains("3 classes"));
        let regression = text.replace("objective=binary sigmoid:1", "objective=regression");
        assert!(from_lightgbm_text(&regression, &options()).unwrap_err().message().contains("regression"));
        let unknown = ImportOptions { columns: [("y".into(), "age".into())].into(), ..options() };
        assert_eq!(from_lightgbm_text(text, &unknown).unwrap_err().class(), ErrorClass::UndefinedColumn);
    }

    #[test]
    fn levels_become_codes_and_unknown_levels_nan() {
        let options = ImportOptions::from_json(&serde_json::json!({
            "columns": {"x": "gender"}, "levels": {"gender": ["Female", "Male"]}
        }))
        .unwrap();
        let text = "tree\nversion=v4\nnum_class=1\nnum_tree_per_iteration=1\nmax_feature_idx=0\nobjective=binary sigmoid:1\nfeature_names=x\n\nTree=0\nnum_leaves=2\nnum_cat=0\nsplit_feature=0\nsplit_gain=1\nthreshold=0.5\ndecision_type=10\nleft_child=-1\nright_child=-2\nleaf_value=1 2\nleaf_count=3 5\ninternal_value=0\ninternal_count=8\nis_linear=0\nshrinkage=1\n\n\nend of trees\n";
        let m = from_lightgbm_text(text, &options).unwrap();
        use crate::prep::recipe::Cell;
        assert_eq!(m.raw_score_features(&m.features_of_cells(&[Cell::Text("Female")])), 1.0);
        assert_eq!(m.raw_score_features(&m.features_of_cells(&[Cell::Text("Male")])), 2.0);
        assert_eq!(m.raw_score_features(&m.features_of_cells(&[Cell::Text("Unknown")])), 1.0, "NaN goes the default (left) way");
        assert_eq!(m.raw_score_features(&m.features_of_cells(&[Cell::Null])), 1.0);
        let bad = ImportOptions::from_json(&serde_json::json!({"levels": {"gender": ["a", "a"]}})).unwrap_err();
        assert!(bad.message().contains("distinct"));
    }

    #[test]
    fn f32_conditions_become_thresholds_on_every_double() {
        let mut rng = Lcg(99);
        let mut conditions =
            vec![0.0f32, -0.0, 1.0, -1.0, f32::MAX, f32::MIN, f32::INFINITY, f32::MIN_POSITIVE, 1e-45, -1e-45, 0.1, 3.5];
        conditions
            .extend((0..2000).map(|_| f32::from_bits((rng.next() as u32) ^ ((rng.next() as u32) << 16))).filter(|c| !c.is_nan()));
        for c in conditions {
            let t = below_f32(c);
            let below = c.next_down();
            let mid = (f64::from(below) + f64::from(c)) / 2.0;
            let mut values = vec![f64::from(c), f64::from(below), f64::INFINITY, f64::NEG_INFINITY, 0.0, -0.0];
            if mid.is_finite() {
                values.extend([mid, mid.next_up(), mid.next_down(), mid.next_up().next_up(), mid.next_down().next_down()]);
            }
            values.extend([f64::from(c).next_up(), f64::from(c).next_down(), t, t.next_down(), t.next_up()]);
            let overflow = f64::from(f32::MAX) + 2f64.powi(103);
            values.extend([
                overflow,
                overflow.next_up(),
                overflow.next_down(),
                -overflow,
                (-overflow).next_up(),
                (-overflow).next_down(),
            ]);
            for v in values.into_iter().filter(|v| !v.is_nan()) {
                assert_eq!(v < t, (v as f32) < c, "condition {c:e} ({:#x}), value {v:e}: threshold {t:e}", c.to_bits());
            }
        }
    }

    #[test]
    fn an_xgboost_model_scores_in_f32_and_refuses_what_it_cannot_hold() {
        let model = serde_json::json!({
            "learner": {
                "feature_names": ["x", "y"],
                "learner_model_param": {"base_score": "[4.485E-1]", "num_class": "0", "num_feature": "2", "num_target": "1"},
                "objective": {"name": "binary:logistic"},
                "gradient_booster": {"name": "gbtree", "model": {"trees": [{
                    "left_children": [1, -1, -1], "right_children": [2, -1, -1], "split_indices": [0, 0, 0],
                    "split_conditions": [0.1, -0.3, 0.7], "default_left": [0, 0, 0], "sum_hessian": [10.0, 4.0, 6.0],
                    "loss_changes": [2.5, 0.0, 0.0], "base_weights": [0.2, -0.3, 0.7], "split_type": [0, 0, 0]
                }]}}
            },
            "version": [3, 2, 0]
        })
        .to_string();
        let m = from_xgboost_json(&model, &options()).unwrap();
        let base = -(1.0f32 / 0.4485f32 - 1.0).ln();
        // 0.1 as a double is above 0.1 as f32, whose f32 is that f32: not below it, so right
        assert_eq!(m.raw_score_features(&[0.1, 0.0]), f64::from(base + 0.7));
        assert_eq!(m.raw_score_features(&[0.0999999, 0.0]), f64::from(base - 0.3));
        assert_eq!(m.raw_score_features(&[f64::NAN, 0.0]), f64::from(base + 0.7), "missing goes right (default_left 0)");
        let Estimator::Gbdt(g) = &m.estimator else { unreachable!() };
        let (bias, contributions) = g.contributions(&[0.0, 0.0]);
        let mean = (-0.3f32 * 4.0 + 0.7 * 6.0) / 10.0;
        assert_eq!(bias, f64::from(mean + base));
        assert_eq!(contributions, vec![f64::from(-0.3f32 - mean), 0.0]);
        for (from, to, class) in [
            ("binary:logistic", "reg:squarederror", ErrorClass::FeatureNotSupported),
            ("\"gbtree\"", "\"dart\"", ErrorClass::FeatureNotSupported),
            ("\"split_type\":[0,0,0]", "\"split_type\":[1,0,0]", ErrorClass::FeatureNotSupported),
            ("\"num_class\":\"0\"", "\"num_class\":\"3\"", ErrorClass::FeatureNotSupported),
            ("\"left_children\":[1,-1,-1]", "\"left_children\":[1,-1]", ErrorClass::BadFileFormat),
            ("\"left_children\":[1,-1,-1]", "\"left_children\":[0,-1,-1]", ErrorClass::BadFileFormat),
        ] {
            assert!(model.contains(from), "{from}");
            let e = from_xgboost_json(&model.replace(from, to), &options()).unwrap_err();
            assert_eq!(e.class(), class, "{to}: {}", e.message());
            assert!(e.hint().is_some(), "{to}");
        }
        assert_eq!(from_xgboost_json(&model[..model.len() - 10], &options()).unwrap_err().class(), ErrorClass::BadFileFormat);
    }
}
