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
}
