//! Reading a function's `options jsonb` argument: typed getters with defaults and bounds, and a
//! final check that refuses unknown keys (a typo must not silently fall back to a default).

use serde_json::{Map, Value};

use crate::error::{Error, Result};

pub struct Options<'a> {
    function: &'static str,
    map: Map<String, Value>,
    known: Vec<&'a str>,
}

impl<'a> Options<'a> {
    /// `options` must be a JSON object (or null, meaning no options).
    pub fn new(function: &'static str, options: &Value) -> Result<Self> {
        let map = match options {
            Value::Null => Map::new(),
            Value::Object(map) => map.clone(),
            other => {
                return Err(Error::invalid_parameter(format!(
                    "options of {function} must be a JSON object, got {}",
                    json_kind(other)
                ))
                .with_hint(r#"pass options as jsonb, e.g. '{"drop_threshold": 0.5}', or '{}' for the defaults"#))
            }
        };
        Ok(Options { function, map, known: Vec::new() })
    }

    fn take(&mut self, key: &'a str) -> Option<&Value> {
        self.known.push(key);
        self.map.get(key).filter(|v| !v.is_null())
    }

    /// A number in `[min, max]`.
    pub fn f64_in(&mut self, key: &'a str, default: f64, min: f64, max: f64) -> Result<f64> {
        let function = self.function;
        match self.take(key) {
            None => Ok(default),
            Some(value) => match value.as_f64() {
                Some(x) if x >= min && x <= max => Ok(x),
                _ => Err(Error::invalid_parameter(format!(
                    "option \"{key}\" of {function} must be a number between {min} and {max}, got {value}"
                ))
                .with_hint(format!("leave \"{key}\" out for its default, {default}"))),
            },
        }
    }

    /// A whole number in `[min, max]`.
    pub fn usize_in(&mut self, key: &'a str, default: usize, min: usize, max: usize) -> Result<usize> {
        let function = self.function;
        match self.take(key) {
            None => Ok(default),
            Some(value) => match value.as_u64() {
                Some(x) if x as usize >= min && x as usize <= max => Ok(x as usize),
                _ => Err(Error::invalid_parameter(format!(
                    "option \"{key}\" of {function} must be a whole number between {min} and {max}, got {value}"
                ))
                .with_hint(format!("leave \"{key}\" out for its default, {default}"))),
            },
        }
    }

    /// One of `allowed` (a string).
    pub fn choice(&mut self, key: &'a str, default: &'static str, allowed: &[&'static str]) -> Result<&'static str> {
        let function = self.function;
        match self.take(key) {
            None => Ok(default),
            Some(value) => value.as_str().and_then(|v| allowed.iter().find(|a| **a == v).copied()).ok_or_else(|| {
                Error::invalid_parameter(format!(
                    "option \"{key}\" of {function} must be one of {}, got {value}",
                    allowed.join(", ")
                ))
                .with_hint(format!("leave \"{key}\" out for its default, {default}"))
            }),
        }
    }

    pub fn bool(&mut self, key: &'a str, default: bool) -> Result<bool> {
        let function = self.function;
        match self.take(key) {
            None => Ok(default),
            Some(Value::Bool(b)) => Ok(*b),
            Some(value) => {
                Err(Error::invalid_parameter(format!("option \"{key}\" of {function} must be true or false, got {value}"))
                    .with_hint(format!("a JSON boolean without quotes, e.g. {{\"{key}\": true}}; leave it out for {default}")))
            }
        }
    }

    /// A list of strings (column names, usually); a single string is a list of one.
    pub fn strings(&mut self, key: &'a str) -> Result<Vec<String>> {
        let function = self.function;
        match self.take(key) {
            None => Ok(Vec::new()),
            Some(Value::String(s)) => Ok(vec![s.clone()]),
            Some(Value::Array(items)) if items.iter().all(Value::is_string) => {
                Ok(items.iter().filter_map(|v| v.as_str().map(str::to_string)).collect())
            }
            Some(value) => Err(Error::invalid_parameter(format!(
                "option \"{key}\" of {function} must be a list of column names, got {value}"
            ))
            .with_hint(format!(r#"for example {{"{key}": ["weight", "payer_code"]}}"#))),
        }
    }

    /// As [`Options::f64_in`], `None` when the key is absent or null (the caller picks the default).
    pub fn optional_f64_in(&mut self, key: &'a str, min: f64, max: f64) -> Result<Option<f64>> {
        if self.take(key).is_none() {
            return Ok(None);
        }
        self.f64_in(key, min, min, max).map(Some)
    }

    /// The raw value, for options with a shape of their own; `None` when absent or null.
    pub fn raw(&mut self, key: &'a str) -> Option<Value> {
        self.take(key).cloned()
    }

    pub fn function(&self) -> &'static str {
        self.function
    }

    /// Fails on any key no getter asked for.
    pub fn finish(self) -> Result<()> {
        let mut unknown: Vec<&String> = self.map.keys().filter(|k| !self.known.contains(&k.as_str())).collect();
        unknown.sort();
        match unknown.first() {
            None => Ok(()),
            Some(key) => Err(Error::invalid_parameter(format!("unknown option \"{key}\" for {}", self.function))
                .with_hint(format!("valid options: {}", self.known.join(", ")))),
        }
    }
}

fn json_kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn defaults_values_and_bounds() {
        let mut o = Options::new("f", &json!({"a": 0.5, "b": 3})).unwrap();
        assert_eq!(o.f64_in("a", 0.3, 0.0, 1.0).unwrap(), 0.5);
        assert_eq!(o.usize_in("b", 5, 0, 10).unwrap(), 3);
        assert_eq!(o.usize_in("c", 5, 0, 10).unwrap(), 5);
        o.finish().unwrap();

        let mut o = Options::new("f", &json!({"a": 2})).unwrap();
        let err = o.f64_in("a", 0.3, 0.0, 1.0).unwrap_err();
        assert!(err.message().contains("\"a\""), "{err}");
        let mut o = Options::new("f", &json!({"b": -1})).unwrap();
        assert!(o.usize_in("b", 5, 0, 10).is_err());
        let mut o = Options::new("f", &json!({"b": "3"})).unwrap();
        assert!(o.usize_in("b", 5, 0, 10).is_err());
    }

    #[test]
    fn unknown_keys_and_non_objects_are_refused() {
        let mut o = Options::new("healthml.profile", &json!({"drop_treshold": 0.5})).unwrap();
        let _ = o.f64_in("drop_threshold", 0.3, 0.0, 1.0);
        let err = o.finish().unwrap_err();
        assert_eq!(err.message(), "unknown option \"drop_treshold\" for healthml.profile");
        assert_eq!(err.hint(), Some("valid options: drop_threshold"));
        assert!(Options::new("f", &json!([1])).is_err());
        assert!(Options::new("f", &Value::Null).unwrap().finish().is_ok());
    }
}

/// An optional cost cap: a number greater than 0 when given.
fn cap<'a>(o: &mut Options<'a>, key: &'a str, unit: &str, example: f64) -> Result<Option<f64>> {
    match o.raw(key) {
        None => Ok(None),
        Some(v) => match v.as_f64() {
            Some(x) if x > 0.0 && x.is_finite() => Ok(Some(x)),
            _ => Err(Error::invalid_parameter(format!(
                "option \"{key}\" of healthml.train must be a number of {unit} greater than 0, got {v}"
            ))
            .with_hint(format!("for example {{\"{key}\": {example}}}; leave it out for no cap"))),
        },
    }
}

/// AutoML's keys of `healthml.train`'s options.
#[derive(Debug, Clone, PartialEq)]
pub struct AutomlOptions {
    pub budget_seconds: f64,
    pub folds: usize,
    /// Exclude the columns the data guardrails alert on (probable leaks, identifier-like columns)
    /// before the search, instead of only reporting them.
    pub exclude_flagged: bool,
    /// A candidate (or blend) that scores a row in more microseconds than this is never chosen.
    pub max_score_us: Option<f64>,
    /// A candidate (or blend) that explains a row in more milliseconds than this is never chosen.
    pub max_explain_ms: Option<f64>,
    /// The out-of-fold AUC a blend must gain, beyond `ENSEMBLE_MIN_GAIN`, for each doubling of the
    /// scoring work over the best single candidate's (docs/reference/automl.md).
    pub blend_gain_per_cost_doubling: f64,
}

impl Default for AutomlOptions {
    fn default() -> Self {
        AutomlOptions {
            budget_seconds: 120.0,
            folds: 3,
            exclude_flagged: false,
            max_score_us: None,
            max_explain_ms: None,
            blend_gain_per_cost_doubling: 0.001,
        }
    }
}

impl AutomlOptions {
    /// Reads AutoML's keys from `healthml.train`'s options; `None` when none of them is given.
    pub fn take(o: &mut Options<'_>) -> Result<Option<Self>> {
        let d = AutomlOptions::default();
        let keys =
            ["budget_seconds", "folds", "exclude_flagged", "max_score_us", "max_explain_ms", "blend_gain_per_cost_doubling"];
        if keys.iter().all(|k| o.raw(k).is_none()) {
            return Ok(None);
        }
        // The budget's lower bound is exclusive: 0 seconds is no budget at all.
        let budget_seconds = match o.raw("budget_seconds") {
            None => d.budget_seconds,
            Some(v) => match v.as_f64() {
                Some(x) if x > 0.0 && x <= 86_400.0 => x,
                _ => {
                    return Err(Error::invalid_parameter(format!(
                        "option \"budget_seconds\" of healthml.train must be a number of seconds greater than 0 (at most 86400), got {v}"
                    ))
                    .with_hint(format!("for example {{\"budget_seconds\": 120}}; leave it out for {}", d.budget_seconds)))
                }
            },
        };
        Ok(Some(AutomlOptions {
            budget_seconds,
            folds: o.usize_in("folds", d.folds, 2, 10)?,
            exclude_flagged: o.bool("exclude_flagged", d.exclude_flagged)?,
            max_score_us: cap(o, "max_score_us", "microseconds", 10.0)?,
            max_explain_ms: cap(o, "max_explain_ms", "milliseconds", 1.0)?,
            blend_gain_per_cost_doubling: o.f64_in("blend_gain_per_cost_doubling", d.blend_gain_per_cost_doubling, 0.0, 0.1)?,
        }))
    }
}

/// The leakage checks every training runs (docs/reference/models.md, "Leakage"): their limits, and
/// the columns the caller has reviewed and accepts.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct LeakageOptions {
    /// A single column whose AUC alone exceeds this is probable leakage.
    feature_auc: Option<f64>,
    /// A model whose test AUC exceeds this is probable leakage.
    model_auc: Option<f64>,
    /// Columns whose single-column finding is accepted: reported, but no bar to deploying.
    pub accepted: Vec<String>,
}

/// The single-column limit, for AutoML and one algorithm alike.
pub const LEAKAGE_FEATURE_AUC: f64 = 0.9;
/// The model ceiling of one algorithm trained by name: a generic one, as the engine serves any task;
/// a clinical model above it has almost always learnt something recorded after the outcome.
pub const LEAKAGE_MODEL_AUC: f64 = 0.95;
/// AutoML's model ceiling, as released in 0.1.0: the readmission literature's (published
/// patient-grouped results are 0.66-0.68).
pub const AUTOML_LEAKAGE_MODEL_AUC: f64 = 0.72;

impl LeakageOptions {
    pub fn take(o: &mut Options<'_>) -> Result<Self> {
        Ok(LeakageOptions {
            feature_auc: o.optional_f64_in("leakage_feature_auc", 0.5, 1.0)?,
            model_auc: o.optional_f64_in("leakage_model_auc", 0.5, 1.0)?,
            accepted: o.strings("accept_leakage")?,
        })
    }

    pub fn feature_auc(&self) -> f64 {
        self.feature_auc.unwrap_or(LEAKAGE_FEATURE_AUC)
    }

    pub fn model_auc(&self, automl: bool) -> f64 {
        self.model_auc.unwrap_or(if automl { AUTOML_LEAKAGE_MODEL_AUC } else { LEAKAGE_MODEL_AUC })
    }
}
