//! ICD-9-CM diagnosis codes grouped the way Strack et al. (2014) grouped them for the readmission
//! study, so a model and a clinician talk about "Circulatory" rather than 700 distinct codes.
//!
//! The data stores codes as text with leading zeros dropped ("38" is 038, septicemia), so numeric
//! codes are compared by value: 250.83 is Diabetes, 785.5 Circulatory, 38 Other.

/// The nine groups of Strack et al., plus `Missing` (no code) and `Invalid` (text that is not an
/// ICD-9 diagnosis code at all, so data problems stay visible instead of hiding in `Other`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Icd9Group {
    Circulatory,
    Respiratory,
    Digestive,
    Diabetes,
    Injury,
    Musculoskeletal,
    Genitourinary,
    Neoplasms,
    Other,
    Missing,
    Invalid,
}

impl Icd9Group {
    pub fn as_str(self) -> &'static str {
        match self {
            Icd9Group::Circulatory => "Circulatory",
            Icd9Group::Respiratory => "Respiratory",
            Icd9Group::Digestive => "Digestive",
            Icd9Group::Diabetes => "Diabetes",
            Icd9Group::Injury => "Injury",
            Icd9Group::Musculoskeletal => "Musculoskeletal",
            Icd9Group::Genitourinary => "Genitourinary",
            Icd9Group::Neoplasms => "Neoplasms",
            Icd9Group::Other => "Other",
            Icd9Group::Missing => "Missing",
            Icd9Group::Invalid => "Invalid",
        }
    }
}

/// Groups one code. `None` and blank text are `Missing`.
pub fn icd9_group(code: Option<&str>) -> Icd9Group {
    let Some(code) = code.map(str::trim).filter(|c| !c.is_empty()) else {
        return Icd9Group::Missing;
    };
    // Supplementary classifications: V (health status, contact) and E (external causes).
    if let Some(rest) = code.strip_prefix(['V', 'v']) {
        return if is_code_body(rest, 2) { Icd9Group::Other } else { Icd9Group::Invalid };
    }
    if let Some(rest) = code.strip_prefix(['E', 'e']) {
        return if is_code_body(rest, 3) { Icd9Group::Other } else { Icd9Group::Invalid };
    }
    if !is_code_body(code, 3) {
        return Icd9Group::Invalid;
    }
    let Ok(value) = code.parse::<f64>() else { return Icd9Group::Invalid };
    let category = value.floor();
    match category as u32 {
        250 => Icd9Group::Diabetes,
        390..=459 | 785 => Icd9Group::Circulatory,
        460..=519 | 786 => Icd9Group::Respiratory,
        520..=579 | 787 => Icd9Group::Digestive,
        580..=629 | 788 => Icd9Group::Genitourinary,
        800..=999 => Icd9Group::Injury,
        710..=739 => Icd9Group::Musculoskeletal,
        140..=239 => Icd9Group::Neoplasms,
        _ => Icd9Group::Other,
    }
}

/// Up to `max_digits` digits, optionally followed by a dot and one or two digits.
fn is_code_body(text: &str, max_digits: usize) -> bool {
    let (whole, fraction) = match text.split_once('.') {
        Some((whole, fraction)) => (whole, Some(fraction)),
        None => (text, None),
    };
    let digits = |s: &str, max: usize| !s.is_empty() && s.len() <= max && s.bytes().all(|b| b.is_ascii_digit());
    digits(whole, max_digits) && fraction.is_none_or(|f| digits(f, 2))
}

#[cfg(test)]
mod tests {
    use super::*;
    use Icd9Group::*;

    #[test]
    fn strack_groups() {
        let cases = [
            ("250", Diabetes),
            ("250.83", Diabetes),
            ("250.01", Diabetes),
            ("390", Circulatory),
            ("428", Circulatory),
            ("459.9", Circulatory),
            ("785", Circulatory),
            ("785.5", Circulatory),
            ("460", Respiratory),
            ("519", Respiratory),
            ("786", Respiratory),
            ("786.05", Respiratory),
            ("520", Digestive),
            ("579", Digestive),
            ("787", Digestive),
            ("800", Injury),
            ("999", Injury),
            ("996.81", Injury),
            ("710", Musculoskeletal),
            ("739", Musculoskeletal),
            ("580", Genitourinary),
            ("629", Genitourinary),
            ("788", Genitourinary),
            ("140", Neoplasms),
            ("239", Neoplasms),
            ("174.9", Neoplasms),
            ("276", Other),
            ("38", Other),
            ("8", Other),
            ("389", Other),
            ("460.0", Respiratory),
            ("V57", Other),
            ("V45.81", Other),
            ("E909", Other),
            ("E878.1", Other),
            ("784", Other),
            ("789", Other),
        ];
        for (code, group) in cases {
            assert_eq!(icd9_group(Some(code)), group, "{code}");
        }
    }

    #[test]
    fn missing_and_invalid() {
        assert_eq!(icd9_group(None), Missing);
        assert_eq!(icd9_group(Some("")), Missing);
        assert_eq!(icd9_group(Some("  ")), Missing);
        assert_eq!(icd9_group(Some(" 250.1 ")), Diabetes);
        for junk in ["?", "abc", "2500", "250.123", "V", "E12345", "1e3", "-250", "250.", ".5", "NaN", "inf"] {
            assert_eq!(icd9_group(Some(junk)), Invalid, "{junk}");
        }
    }
}
