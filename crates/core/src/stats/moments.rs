//! Streaming central moments with an exact pairwise merge.
//!
//! One pass, constant memory, and a merge that is exact in real arithmetic, so partial states built
//! in parallel workers (or on other nodes) combine to the same answer as a serial scan, in any order.
//! Update and merge follow Pébay (2008) / Terriberry, the higher-order form of Chan et al.'s pairwise
//! variance; the estimators match pandas' `Series.skew()` and `Series.kurt()` bit for bit in formula.

use crate::error::{Error, Result};

/// Sums of powers of deviations from the running mean, plus counts and range.
///
/// NULLs are counted in `nulls`. NaN and ±Infinity are not measurements either: they are counted in
/// `nonfinite` and left out of every moment, so one bad value cannot turn a whole profile into NaN.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Moments {
    pub n: u64,
    pub nulls: u64,
    pub nonfinite: u64,
    pub mean: f64,
    /// Σ (x - mean)²
    pub m2: f64,
    /// Σ (x - mean)³
    pub m3: f64,
    /// Σ (x - mean)⁴
    pub m4: f64,
    pub min: f64,
    pub max: f64,
}

impl Default for Moments {
    fn default() -> Self {
        Moments { n: 0, nulls: 0, nonfinite: 0, mean: 0.0, m2: 0.0, m3: 0.0, m4: 0.0, min: f64::INFINITY, max: f64::NEG_INFINITY }
    }
}

/// pandas zeroes sums whose magnitude is below this before dividing (`_zero_out_fperr`), so a
/// constant column has skewness and kurtosis 0 rather than noise; we do the same.
const FP_ZERO: f64 = 1e-14;

/// Version byte of the serialized state, so a state written by another build is refused, not misread.
const STATE_FORMAT: u8 = 1;
/// version + 3 counters + 6 floats
pub const SERIALIZED_LEN: usize = 1 + 3 * 8 + 6 * 8;

impl Moments {
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds one value; `None` is a NULL.
    pub fn push(&mut self, value: Option<f64>) {
        match value {
            None => self.nulls += 1,
            Some(x) if !x.is_finite() => self.nonfinite += 1,
            Some(x) => self.push_finite(x),
        }
    }

    fn push_finite(&mut self, x: f64) {
        let n1 = self.n as f64;
        self.n += 1;
        let n = self.n as f64;
        let delta = x - self.mean;
        let delta_n = delta / n;
        let delta_n2 = delta_n * delta_n;
        let term1 = delta * delta_n * n1;
        self.mean += delta_n;
        self.m4 += term1 * delta_n2 * (n * n - 3.0 * n + 3.0) + 6.0 * delta_n2 * self.m2 - 4.0 * delta_n * self.m3;
        self.m3 += term1 * delta_n * (n - 2.0) - 3.0 * delta_n * self.m2;
        self.m2 += term1;
        self.min = self.min.min(x);
        self.max = self.max.max(x);
    }

    /// Folds `other` into `self` as if all of its values had been pushed here.
    pub fn merge(&mut self, other: &Moments) {
        self.nulls += other.nulls;
        self.nonfinite += other.nonfinite;
        if other.n == 0 {
            return;
        }
        if self.n == 0 {
            let (nulls, nonfinite) = (self.nulls, self.nonfinite);
            *self = *other;
            self.nulls = nulls;
            self.nonfinite = nonfinite;
            return;
        }
        let na = self.n as f64;
        let nb = other.n as f64;
        let n = na + nb;
        let delta = other.mean - self.mean;
        let delta2 = delta * delta;
        let delta3 = delta2 * delta;
        let delta4 = delta2 * delta2;

        let m2 = self.m2 + other.m2 + delta2 * na * nb / n;
        let m3 = self.m3 + other.m3 + delta3 * na * nb * (na - nb) / (n * n) + 3.0 * delta * (na * other.m2 - nb * self.m2) / n;
        let m4 = self.m4
            + other.m4
            + delta4 * na * nb * (na * na - na * nb + nb * nb) / (n * n * n)
            + 6.0 * delta2 * (na * na * other.m2 + nb * nb * self.m2) / (n * n)
            + 4.0 * delta * (na * other.m3 - nb * self.m3) / n;

        self.mean += delta * nb / n;
        self.m2 = m2;
        self.m3 = m3;
        self.m4 = m4;
        self.n += other.n;
        self.min = self.min.min(other.min);
        self.max = self.max.max(other.max);
    }

    pub fn mean(&self) -> Option<f64> {
        (self.n > 0).then_some(self.mean)
    }

    /// Sample variance (n - 1 denominator), as PostgreSQL's `variance` and pandas' `var`.
    pub fn variance(&self) -> Option<f64> {
        (self.n > 1).then(|| zero_out_fp_error(self.m2) / (self.n as f64 - 1.0))
    }

    pub fn stddev(&self) -> Option<f64> {
        self.variance().map(f64::sqrt)
    }

    pub fn min(&self) -> Option<f64> {
        (self.n > 0).then_some(self.min)
    }

    pub fn max(&self) -> Option<f64> {
        (self.n > 0).then_some(self.max)
    }

    /// Adjusted Fisher-Pearson skewness G1, as pandas `Series.skew()`: NULL below 3 values, 0 for a
    /// constant column.
    pub fn skewness(&self) -> Option<f64> {
        if self.n < 3 {
            return None;
        }
        let n = self.n as f64;
        let m2 = zero_out_fp_error(self.m2);
        let m3 = zero_out_fp_error(self.m3);
        if m2 == 0.0 {
            return Some(0.0);
        }
        Some((n * (n - 1.0).sqrt() / (n - 2.0)) * (m3 / m2.powf(1.5)))
    }

    /// Bias-corrected excess kurtosis G2, as pandas `Series.kurt()`: NULL below 4 values, 0 for a
    /// constant column.
    pub fn kurtosis(&self) -> Option<f64> {
        if self.n < 4 {
            return None;
        }
        let n = self.n as f64;
        let m2 = self.m2;
        let adj = 3.0 * (n - 1.0).powi(2) / ((n - 2.0) * (n - 3.0));
        let numerator = zero_out_fp_error(n * (n + 1.0) * (n - 1.0) * self.m4);
        let denominator = zero_out_fp_error((n - 2.0) * (n - 3.0) * m2 * m2);
        if denominator == 0.0 {
            return Some(0.0);
        }
        Some(numerator / denominator - adj)
    }

    /// A fixed little-endian layout with a version byte, for PostgreSQL's aggregate SERIALFUNC.
    pub fn to_bytes(&self) -> [u8; SERIALIZED_LEN] {
        let mut out = [0u8; SERIALIZED_LEN];
        out[0] = STATE_FORMAT;
        let mut at = 1;
        for counter in [self.n, self.nulls, self.nonfinite] {
            out[at..at + 8].copy_from_slice(&counter.to_le_bytes());
            at += 8;
        }
        for value in [self.mean, self.m2, self.m3, self.m4, self.min, self.max] {
            out[at..at + 8].copy_from_slice(&value.to_le_bytes());
            at += 8;
        }
        out
    }

    pub fn from_bytes(bytes: &[u8]) -> Result<Self> {
        if bytes.len() != SERIALIZED_LEN || bytes[0] != STATE_FORMAT {
            return Err(Error::corrupted(format!(
                "moments state of {} bytes with format {:?} cannot be read (expected {} bytes, format {})",
                bytes.len(),
                bytes.first(),
                SERIALIZED_LEN,
                STATE_FORMAT
            ))
            .with_hint("partial aggregate states must come from the same healthml version"));
        }
        let word = |i: usize| {
            let start = 1 + 8 * i;
            let mut buf = [0u8; 8];
            buf.copy_from_slice(&bytes[start..start + 8]);
            buf
        };
        Ok(Moments {
            n: u64::from_le_bytes(word(0)),
            nulls: u64::from_le_bytes(word(1)),
            nonfinite: u64::from_le_bytes(word(2)),
            mean: f64::from_le_bytes(word(3)),
            m2: f64::from_le_bytes(word(4)),
            m3: f64::from_le_bytes(word(5)),
            m4: f64::from_le_bytes(word(6)),
            min: f64::from_le_bytes(word(7)),
            max: f64::from_le_bytes(word(8)),
        })
    }
}

/// Words of the state as SQL sees it (`double precision[]`): n, nulls, nonfinite, mean, m2, m3,
/// m4, min, max. A plain SQL type, unlike `internal`, can travel between servers, so a distributed
/// engine (Citus, or `postgres_fdw` by hand) can compute partial states per node and combine them.
pub const STATE_WORDS: usize = 9;

/// The state of no values, also the aggregates' `INITCOND`.
pub const EMPTY_STATE_TEXT: &str = "{0,0,0,0,0,0,0,Infinity,-Infinity}";

/// Counts are kept as doubles in the SQL state; every integer up to 2^53 is exact there.
const MAX_EXACT_COUNT: f64 = 9_007_199_254_740_992.0;

impl Moments {
    pub fn to_state_words(&self) -> [f64; STATE_WORDS] {
        [self.n as f64, self.nulls as f64, self.nonfinite as f64, self.mean, self.m2, self.m3, self.m4, self.min, self.max]
    }

    /// Reads a state back. The words may come from another server or be typed by hand, so anything
    /// no sequence of values could produce is refused rather than turned into a wrong statistic.
    pub fn from_state_words(words: &[f64]) -> Result<Self> {
        let refuse = |why: String| {
            Err(Error::invalid_parameter(format!("moments state {words:?} is not a state of healthml.moments_partial: {why}"))
                .with_hint("pass states made by healthml.moments_partial(value), unchanged"))
        };
        if words.len() != STATE_WORDS {
            return refuse(format!("it has {} values, a state has {STATE_WORDS}", words.len()));
        }
        let count = |i: usize, name: &str| -> std::result::Result<u64, String> {
            let c = words[i];
            if c.is_finite() && c >= 0.0 && c.fract() == 0.0 && c <= MAX_EXACT_COUNT {
                Ok(c as u64)
            } else {
                Err(format!("{name} = {c} is not a whole count"))
            }
        };
        let (n, nulls, nonfinite) = match (count(0, "n"), count(1, "nulls"), count(2, "nonfinite")) {
            (Ok(n), Ok(nulls), Ok(nonfinite)) => (n, nulls, nonfinite),
            (Err(why), _, _) | (_, Err(why), _) | (_, _, Err(why)) => return refuse(why),
        };
        let [mean, m2, m3, m4, min, max] = [words[3], words[4], words[5], words[6], words[7], words[8]];
        let moments = Moments { n, nulls, nonfinite, mean, m2, m3, m4, min, max };
        if n == 0 {
            if moments.to_state_words()[3..] != Moments::new().to_state_words()[3..] {
                return refuse("a state of no values has mean and sums 0, min Infinity and max -Infinity".into());
            }
            return Ok(moments);
        }
        if ![mean, m2, m3, m4, min, max].iter().all(|w| w.is_finite()) {
            return refuse("the mean, sums and range of a state of values are finite".into());
        }
        if m2 < 0.0 || m4 < 0.0 || min > max {
            return refuse("the sums of even powers are not negative and min is not above max".into());
        }
        Ok(moments)
    }
}

fn zero_out_fp_error(x: f64) -> f64 {
    if x.abs() < FP_ZERO {
        0.0
    } else {
        x
    }
}

impl FromIterator<Option<f64>> for Moments {
    fn from_iter<I: IntoIterator<Item = Option<f64>>>(iter: I) -> Self {
        let mut m = Moments::new();
        for v in iter {
            m.push(v);
        }
        m
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Textbook two-pass estimators, the way pandas computes them: the oracle for the streaming code.
    fn two_pass(xs: &[f64]) -> (f64, f64, f64, f64) {
        let n = xs.len() as f64;
        let mean = xs.iter().sum::<f64>() / n;
        let (mut m2, mut m3, mut m4) = (0.0, 0.0, 0.0);
        for &x in xs {
            let d = x - mean;
            m2 += d * d;
            m3 += d * d * d;
            m4 += d * d * d * d;
        }
        let skew = (n * (n - 1.0).sqrt() / (n - 2.0)) * (m3 / m2.powf(1.5));
        let kurt = n * (n + 1.0) * (n - 1.0) * m4 / ((n - 2.0) * (n - 3.0) * m2 * m2)
            - 3.0 * (n - 1.0).powi(2) / ((n - 2.0) * (n - 3.0));
        (mean, (m2 / (n - 1.0)).sqrt(), skew, kurt)
    }

    /// A deterministic, skewed, heavy-tailed sample (no RNG crate needed).
    fn sample(len: usize) -> Vec<f64> {
        let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
        (0..len)
            .map(|_| {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                let u = (state >> 11) as f64 / (1u64 << 53) as f64;
                (-(1.0 - u).ln()).powi(2) * 10.0 + 3.0
            })
            .collect()
    }

    fn rel_close(a: f64, b: f64, tol: f64) -> bool {
        (a - b).abs() <= tol * b.abs().max(1e-300)
    }

    #[test]
    fn streaming_matches_two_pass() {
        let xs = sample(10_000);
        let m: Moments = xs.iter().map(|&x| Some(x)).collect();
        let (mean, sd, skew, kurt) = two_pass(&xs);
        assert!(rel_close(m.mean().unwrap(), mean, 1e-12));
        assert!(rel_close(m.stddev().unwrap(), sd, 1e-12));
        assert!(rel_close(m.skewness().unwrap(), skew, 1e-10), "{:?} vs {skew}", m.skewness());
        assert!(rel_close(m.kurtosis().unwrap(), kurt, 1e-10), "{:?} vs {kurt}", m.kurtosis());
    }

    #[test]
    fn known_values_match_pandas() {
        // pandas 2.x: pd.Series([1, 2, 3, 4, 10.0]).skew(), .kurt()
        let m: Moments = [1.0, 2.0, 3.0, 4.0, 10.0].iter().map(|&x| Some(x)).collect();
        assert!(rel_close(m.skewness().unwrap(), 1.697056274847714, 1e-12), "{:?}", m.skewness());
        assert!(rel_close(m.kurtosis().unwrap(), 3.1519999999999984, 1e-12), "{:?}", m.kurtosis());
    }

    #[test]
    fn merge_in_any_split_and_order_equals_serial() {
        let xs = sample(5_000);
        let serial: Moments = xs.iter().map(|&x| Some(x)).collect();
        for parts in [2usize, 3, 7, 64, 997] {
            let chunk = xs.len().div_ceil(parts);
            let states: Vec<Moments> = xs.chunks(chunk).map(|c| c.iter().map(|&x| Some(x)).collect()).collect();
            // left fold, right fold and a balanced tree must all agree with the serial scan
            let mut left = Moments::new();
            states.iter().for_each(|s| left.merge(s));
            let mut right = Moments::new();
            states.iter().rev().for_each(|s| right.merge(s));
            let tree = merge_tree(&states);
            for merged in [left, right, tree] {
                assert_eq!(merged.n, serial.n);
                assert!(rel_close(merged.mean, serial.mean, 1e-12));
                assert!(rel_close(merged.skewness().unwrap(), serial.skewness().unwrap(), 1e-10));
                assert!(rel_close(merged.kurtosis().unwrap(), serial.kurtosis().unwrap(), 1e-10));
                assert_eq!(merged.min, serial.min);
                assert_eq!(merged.max, serial.max);
            }
        }
    }

    fn merge_tree(states: &[Moments]) -> Moments {
        match states {
            [] => Moments::new(),
            [one] => *one,
            _ => {
                let (a, b) = states.split_at(states.len() / 2);
                let mut left = merge_tree(a);
                left.merge(&merge_tree(b));
                left
            }
        }
    }

    #[test]
    fn merging_empty_states_keeps_counts() {
        let mut a = Moments::new();
        a.push(None);
        let mut b: Moments = [Some(1.0), Some(2.0), None].into_iter().collect();
        b.merge(&a);
        assert_eq!((b.n, b.nulls), (2, 2));
        let mut c = a;
        c.merge(&b);
        assert_eq!((c.n, c.nulls, c.mean), (2, 3, 1.5));
    }

    #[test]
    fn small_samples_and_constants() {
        let two: Moments = [Some(1.0), Some(2.0)].into_iter().collect();
        assert_eq!(two.skewness(), None);
        let three: Moments = [Some(1.0), Some(2.0), Some(4.0)].into_iter().collect();
        assert!(three.skewness().is_some());
        assert_eq!(three.kurtosis(), None);
        let constant: Moments = std::iter::repeat_n(Some(7.0), 10).collect();
        assert_eq!(constant.skewness(), Some(0.0));
        assert_eq!(constant.kurtosis(), Some(0.0));
        assert_eq!(constant.stddev(), Some(0.0));
        let empty = Moments::new();
        assert_eq!((empty.mean(), empty.min(), empty.stddev()), (None, None, None));
    }

    #[test]
    fn nan_and_infinity_are_counted_not_used() {
        let m: Moments =
            [Some(1.0), Some(f64::NAN), Some(f64::INFINITY), Some(2.0), Some(f64::NEG_INFINITY), None].into_iter().collect();
        assert_eq!((m.n, m.nulls, m.nonfinite), (2, 1, 3));
        assert_eq!((m.min(), m.max(), m.mean()), (Some(1.0), Some(2.0), Some(1.5)));
    }

    #[test]
    fn bytes_round_trip_and_refuse_garbage() {
        let m: Moments = sample(100).into_iter().map(Some).chain([None]).collect();
        let back = Moments::from_bytes(&m.to_bytes()).unwrap();
        assert_eq!(back, m);
        assert!(Moments::from_bytes(&[1, 2, 3]).is_err());
        let mut wrong_version = m.to_bytes();
        wrong_version[0] = 99;
        let err = Moments::from_bytes(&wrong_version).unwrap_err();
        assert_eq!(err.class().sqlstate(), "XX001");
    }

    #[test]
    fn state_words_round_trip_exactly_and_combine_like_the_scan() {
        let values = sample(1000);
        let whole: Moments = values.iter().copied().map(Some).chain([None, Some(f64::NAN)]).collect();
        let back = Moments::from_state_words(&whole.to_state_words()).unwrap();
        assert_eq!(back, whole);
        // Partial states written as words, read back and merged, give what the merge of the states gives.
        let (left, right) = values.split_at(400);
        let mut merged =
            Moments::from_state_words(&left.iter().copied().map(Some).collect::<Moments>().to_state_words()).unwrap();
        merged.merge(&Moments::from_state_words(&right.iter().copied().map(Some).collect::<Moments>().to_state_words()).unwrap());
        let (_, _, skew, kurt) = two_pass(&values);
        assert!((merged.skewness().unwrap() - skew).abs() < 1e-12);
        assert!((merged.kurtosis().unwrap() - kurt).abs() < 1e-12);
        let empty: Vec<f64> = EMPTY_STATE_TEXT.trim_matches(['{', '}']).split(',').map(|w| w.parse().unwrap()).collect();
        assert_eq!(Moments::from_state_words(&empty).unwrap(), Moments::new());
    }

    #[test]
    fn state_words_no_values_could_make_are_refused() {
        let good = sample(10).into_iter().map(Some).collect::<Moments>().to_state_words();
        let with = |i: usize, value: f64| {
            let mut words = good;
            words[i] = value;
            words
        };
        for (bad, why) in [
            (with(0, -1.0), "not a whole count"),
            (with(1, 2.5), "not a whole count"),
            (with(2, f64::NAN), "not a whole count"),
            (with(0, 1e300), "not a whole count"),
            (with(4, -3.0), "not negative"),
            (with(7, 1e9), "min is not above max"),
            (with(5, f64::INFINITY), "finite"),
            (with(0, 0.0), "a state of no values"),
        ] {
            let err = Moments::from_state_words(&bad).unwrap_err();
            assert_eq!(err.class().sqlstate(), "22023");
            assert!(err.message().contains(why), "{why}: {}", err.message());
            assert!(err.hint().unwrap().contains("moments_partial"));
        }
        assert!(Moments::from_state_words(&good[..8]).unwrap_err().message().contains("it has 8 values"));
    }
}
