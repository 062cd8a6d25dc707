//! Deterministic, group-aware splits: every row of a group (a patient) lands on the same side, decided
//! by a hash of the group key and the seed, so the split is reproducible and independent of row order.

/// splitmix64 finalizer over FNV-1a of the key bytes, salted with the seed.
pub fn group_hash(key: &[u8], seed: u64) -> u64 {
    let mut h = 0xcbf2_9ce4_8422_2325u64 ^ seed.wrapping_mul(0x9E37_79B9_7F4A_7C15);
    for &b in key {
        h ^= b as u64;
        h = h.wrapping_mul(0x100_0000_01b3);
    }
    let mut z = h.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// The group's position in [0, 1).
pub fn group_fraction(key: &[u8], seed: u64) -> f64 {
    (group_hash(key, seed) >> 11) as f64 / (1u64 << 53) as f64
}

/// True when the group belongs to the first `fraction` of groups for this seed.
pub fn in_fraction(key: &[u8], seed: u64, fraction: f64) -> bool {
    group_fraction(key, seed) < fraction
}

/// Salt of the training sample's group hash (option "sample"), so that which groups are sampled is
/// independent of which are tested.
const SAMPLE_SALT: u64 = 0x5A3F_1E5E_ED00_0001;

/// True when the group is in the training sample of `fraction` of the groups for this seed: every row
/// of a sampled group is read, and no row of another.
pub fn in_sample(key: &[u8], seed: u64, fraction: f64) -> bool {
    in_fraction(key, seed ^ SAMPLE_SALT, fraction)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fractions_are_close_to_asked_and_stable() {
        let keys: Vec<String> = (0..20_000).map(|i| format!("patient-{i}")).collect();
        let share = keys.iter().filter(|k| in_fraction(k.as_bytes(), 42, 0.2)).count() as f64 / keys.len() as f64;
        assert!((share - 0.2).abs() < 0.01, "{share}");
        assert_eq!(in_fraction(b"p1", 42, 0.2), in_fraction(b"p1", 42, 0.2));
        let other_seed = keys.iter().filter(|k| in_fraction(k.as_bytes(), 42, 0.2) != in_fraction(k.as_bytes(), 7, 0.2)).count();
        assert!(other_seed > 1000, "another seed gives another split");
    }

    #[test]
    fn samples_are_their_share_of_groups_and_independent_of_the_split() {
        let keys: Vec<String> = (0..20_000).map(|i| i.to_string()).collect();
        let sampled: Vec<bool> = keys.iter().map(|k| in_sample(k.as_bytes(), 42, 0.1)).collect();
        let share = sampled.iter().filter(|&&s| s).count() as f64 / keys.len() as f64;
        assert!((share - 0.1).abs() < 0.01, "{share}");
        // the test share among sampled groups is the test share overall: the two draws are independent
        let tested = keys.iter().zip(&sampled).filter(|(k, &s)| s && in_fraction(k.as_bytes(), 42, 0.2)).count();
        let tested_share = tested as f64 / sampled.iter().filter(|&&s| s).count() as f64;
        assert!((tested_share - 0.2).abs() < 0.03, "{tested_share}");
        assert!(keys.iter().all(|k| in_sample(k.as_bytes(), 42, 1.0)), "a fraction of 1 keeps every group");
    }
}
