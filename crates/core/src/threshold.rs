//! Decision thresholds by policy: the F1-optimal one, a recall or precision floor, or the capacity
//! of a care team ("we can follow up 10% of discharges").

use crate::error::{Error, ErrorClass, Result};
use crate::metrics;
use crate::metrics::best_f1_threshold;

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum ThresholdPolicy {
    F1,
    RecallAtLeast(f64),
    PrecisionAtLeast(f64),
    /// Flag this percentage of rows, the highest scores first.
    TopPercent(f64),
}

const FORMS: &str = "use 'f1', 'recall>=0.7', 'precision>=0.3' or 'top_percent=10'";

impl ThresholdPolicy {
    pub fn parse(text: &str) -> Result<Self> {
        let compact: String = text.chars().filter(|c| !c.is_whitespace()).collect::<String>().to_lowercase();
        let number = |prefix: &str, max: f64| -> Result<Option<f64>> {
            let Some(rest) = compact.strip_prefix(prefix) else { return Ok(None) };
            match rest.parse::<f64>() {
                Ok(x) if x > 0.0 && x <= max => Ok(Some(x)),
                _ => Err(Error::invalid_parameter(format!(
                    "threshold policy \"{text}\" needs a number in (0, {max}] after \"{prefix}\""
                ))
                .with_hint(FORMS)),
            }
        };
        if compact == "f1" {
            return Ok(ThresholdPolicy::F1);
        }
        if let Some(x) = number("recall>=", 1.0)? {
            return Ok(ThresholdPolicy::RecallAtLeast(x));
        }
        if let Some(x) = number("precision>=", 1.0)? {
            return Ok(ThresholdPolicy::PrecisionAtLeast(x));
        }
        if let Some(x) = number("top_percent=", 100.0)? {
            return Ok(ThresholdPolicy::TopPercent(x));
        }
        Err(Error::invalid_parameter(format!("unknown threshold policy \"{text}\"")).with_hint(FORMS))
    }

    /// The canonical text of the policy, as stored.
    pub fn text(&self) -> String {
        match self {
            ThresholdPolicy::F1 => "f1".to_string(),
            ThresholdPolicy::RecallAtLeast(x) => format!("recall>={x}"),
            ThresholdPolicy::PrecisionAtLeast(x) => format!("precision>={x}"),
            ThresholdPolicy::TopPercent(x) => format!("top_percent={x}"),
        }
    }

    /// The threshold (flag when score >= threshold) that meets the policy on these rows.
    pub fn threshold(&self, labels: &[bool], scores: &[f64]) -> Result<f64> {
        if scores.is_empty() {
            return Err(Error::new(ErrorClass::InsufficientData, "no scored rows to set a threshold on"));
        }
        let unreachable = |what: String| {
            Error::new(ErrorClass::InsufficientData, format!("no threshold reaches {what} on these rows"))
                .with_hint("lower the requirement, or set the threshold on more rows")
        };
        match *self {
            ThresholdPolicy::F1 => {
                best_f1_threshold(labels, scores).ok_or_else(|| unreachable("an F1 above 0 (no positive row)".into()))
            }
            // The highest threshold with enough recall: the fewest flags that find that share of positives.
            ThresholdPolicy::RecallAtLeast(r) => metrics::pr_curve(labels, scores)
                .into_iter()
                .find(|p| p.recall >= r)
                .map(|p| p.threshold)
                .ok_or_else(|| unreachable(format!("recall {r}"))),
            // The lowest threshold that keeps the precision: the most positives found at that precision.
            ThresholdPolicy::PrecisionAtLeast(p) => metrics::pr_curve(labels, scores)
                .into_iter()
                .filter(|point| point.precision >= p)
                .map(|point| point.threshold)
                .min_by(f64::total_cmp)
                .ok_or_else(|| unreachable(format!("precision {p}"))),
            ThresholdPolicy::TopPercent(q) => {
                let mut sorted = scores.to_vec();
                sorted.sort_by(|a, b| b.total_cmp(a));
                let flagged = ((sorted.len() as f64 * q / 100.0).round() as usize).clamp(1, sorted.len());
                Ok(sorted[flagged - 1])
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_every_form_and_refuses_others() {
        assert_eq!(ThresholdPolicy::parse("F1").unwrap(), ThresholdPolicy::F1);
        assert_eq!(ThresholdPolicy::parse("recall >= 0.7").unwrap(), ThresholdPolicy::RecallAtLeast(0.7));
        assert_eq!(ThresholdPolicy::parse("precision>=0.3").unwrap(), ThresholdPolicy::PrecisionAtLeast(0.3));
        assert_eq!(ThresholdPolicy::parse("top_percent=10").unwrap().text(), "top_percent=10");
        for bad in ["recall>=1.5", "top_percent=0", "top_percent=abc", "accuracy", ""] {
            let e = ThresholdPolicy::parse(bad).unwrap_err();
            assert_eq!(e.class(), ErrorClass::InvalidParameterValue, "{bad}");
            assert!(e.hint().unwrap().contains("top_percent=10"), "{bad}");
        }
    }

    #[test]
    fn thresholds_meet_their_policy() {
        let scores: Vec<f64> = (0..1000).map(|i| i as f64 / 1000.0).collect();
        let labels: Vec<bool> = (0..1000).map(|i| (i * 7919) % 1000 < i).collect();
        let flagged = |t: f64| scores.iter().filter(|&&s| s >= t).count();
        let t = ThresholdPolicy::TopPercent(10.0).threshold(&labels, &scores).unwrap();
        assert_eq!(flagged(t), 100);
        let recall = |t: f64| {
            let tp = scores.iter().zip(&labels).filter(|(&s, &y)| y && s >= t).count() as f64;
            tp / labels.iter().filter(|&&y| y).count() as f64
        };
        let t = ThresholdPolicy::RecallAtLeast(0.8).threshold(&labels, &scores).unwrap();
        assert!(recall(t) >= 0.8);
        let precision = |t: f64| scores.iter().zip(&labels).filter(|(&s, &y)| y && s >= t).count() as f64 / flagged(t) as f64;
        let t = ThresholdPolicy::PrecisionAtLeast(0.9).threshold(&labels, &scores).unwrap();
        assert!(precision(t) >= 0.9);
        let e = ThresholdPolicy::PrecisionAtLeast(1.0).threshold(&[false, true], &[0.9, 0.1]).unwrap_err();
        assert_eq!(e.class(), ErrorClass::InsufficientData);
    }
}
