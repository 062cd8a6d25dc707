//! Clinical code functions for feature engineering.

use healthml_core::prep::icd9;
use pgrx::prelude::*;

/// The Strack et al. (2014) group of an ICD-9 diagnosis code: Circulatory, Respiratory, Digestive,
/// Diabetes, Injury, Musculoskeletal, Genitourinary, Neoplasms or Other; `Missing` for NULL or
/// blank, `Invalid` for text that is not an ICD-9 diagnosis code.
#[pg_extern(immutable, parallel_safe)]
fn icd9_group(code: Option<&str>) -> &'static str {
    icd9::icd9_group(code).as_str()
}
