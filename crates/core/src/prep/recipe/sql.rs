//! A fitted recipe as SQL: the same transform as the frame path, over a whole relation.

use super::*;

impl Recipe {
    /// `(sql expression, column name)` per feature: the same transform as [`Recipe::apply_frame`],
    /// as SQL over the source relation. Identifiers are always quoted; names longer than PostgreSQL
    /// keeps are shortened with a hash so they stay distinct.
    pub fn sql_select_list(&self) -> Vec<(String, String)> {
        let mut out = Vec::new();
        for step in &self.steps {
            match step {
                Step::Exclude { .. } | Step::Drop { .. } => {}
                Step::Numeric { column, impute, lower, upper, log1p, center, scale } => {
                    let v = format!("({})::float8", quote_ident(column));
                    let mut e = format!(
                        "coalesce(CASE WHEN {v} IN ('NaN', 'Infinity', '-Infinity') THEN NULL ELSE {v} END, {})",
                        float_literal(*impute)
                    );
                    if let Some(lo) = lower {
                        e = format!("greatest({e}, {})", float_literal(*lo));
                    }
                    if let Some(hi) = upper {
                        e = format!("least({e}, {})", float_literal(*hi));
                    }
                    if *log1p {
                        e = format!("ln(float8 '1' + {e})");
                    }
                    e = format!("(({e}) - {}) / {}", float_literal(*center), float_literal(*scale));
                    out.push((e, sql_column_name(column)));
                }
                Step::Passthrough { column } => {
                    let v = format!("({})::float8", quote_ident(column));
                    out.push((
                        format!(
                            "CASE WHEN {v} = float8 'Infinity' THEN {} ELSE coalesce({v}, float8 'NaN') END",
                            float_literal(f64::MAX)
                        ),
                        sql_column_name(column),
                    ));
                }
                Step::Codes { column, levels, .. } => {
                    let arms: Vec<String> =
                        levels.iter().enumerate().map(|(i, l)| format!("WHEN {} THEN float8 '{i}'", quote_literal(l))).collect();
                    out.push((
                        format!("CASE ({})::text {} ELSE float8 'NaN' END", quote_ident(column), arms.join(" ")),
                        sql_column_name(column),
                    ));
                }
                Step::Frequency { column, impute, levels, shares, .. } => {
                    let v = format!("coalesce(({})::text, {})", quote_ident(column), quote_literal(impute));
                    let arms: Vec<String> = levels
                        .iter()
                        .zip(shares)
                        .map(|(l, f)| format!("WHEN {} THEN {}", quote_literal(l), float_literal(*f)))
                        .collect();
                    out.push((format!("CASE {v} {} ELSE float8 '0' END", arms.join(" ")), sql_column_name(column)));
                }
                Step::TargetRate { column, impute, levels, rates, prior, .. } => {
                    let v = format!("coalesce(({})::text, {})", quote_ident(column), quote_literal(impute));
                    let arms: Vec<String> = levels
                        .iter()
                        .zip(rates)
                        .map(|(l, r)| format!("WHEN {} THEN {}", quote_literal(l), float_literal(*r)))
                        .collect();
                    out.push((
                        format!("CASE {v} {} ELSE {} END", arms.join(" "), float_literal(*prior)),
                        sql_column_name(column),
                    ));
                }
                Step::Categorical { column, impute, levels, other, .. } => {
                    let v = format!("coalesce(({})::text, {})", quote_ident(column), quote_literal(impute));
                    for level in levels {
                        out.push((
                            format!("({v} = {})::int::float8", quote_literal(level)),
                            sql_column_name(&format!("{column}={level}")),
                        ));
                    }
                    if *other {
                        let list: Vec<String> = levels.iter().map(|l| quote_literal(l)).collect();
                        let e = if list.is_empty() {
                            "float8 '1'".to_string()
                        } else {
                            format!("({v} NOT IN ({}))::int::float8", list.join(", "))
                        };
                        out.push((e, sql_column_name(&format!("{column}={OTHER_LEVEL}"))));
                    }
                }
            }
        }
        out
    }
}

pub fn quote_ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// A relation name as SQL writes it (`name`, `schema.name`, either part double-quoted), as its
/// parts (unquoted parts folded to lower case, as PostgreSQL does); None when it is not one.
/// Lets a name given inside options be resolved without ever being pasted into SQL.
pub fn parse_qualified_name(text: &str) -> Option<Vec<String>> {
    let mut parts = Vec::new();
    let mut chars = text.trim().chars().peekable();
    loop {
        let mut part = String::new();
        if chars.peek() == Some(&'"') {
            chars.next();
            loop {
                match chars.next()? {
                    '"' if chars.peek() == Some(&'"') => {
                        chars.next();
                        part.push('"');
                    }
                    '"' => break,
                    c => part.push(c),
                }
            }
        } else {
            while let Some(&c) = chars.peek() {
                if c.is_alphanumeric() || c == '_' || c == '$' {
                    part.extend(c.to_lowercase());
                    chars.next();
                } else {
                    break;
                }
            }
            if part.is_empty() || part.starts_with(|c: char| c.is_ascii_digit() || c == '$') {
                return None;
            }
        }
        if part.is_empty() {
            return None;
        }
        parts.push(part);
        match chars.next() {
            None => break,
            Some('.') if parts.len() < 3 => continue,
            Some(_) => return None,
        }
    }
    Some(parts)
}

pub fn quote_literal(text: &str) -> String {
    format!("'{}'", text.replace('\'', "''"))
}

/// Shortest text that reads back as the same double, as a typed float8 literal.
pub(super) fn float_literal(x: f64) -> String {
    format!("float8 '{x:?}'")
}

/// The column name a feature gets in a standardized table, within PostgreSQL's 63 bytes.
pub fn sql_column_name(feature: &str) -> String {
    let name = if feature.len() <= MAX_IDENTIFIER_BYTES {
        feature.to_string()
    } else {
        let mut cut = MAX_IDENTIFIER_BYTES - 9;
        while !feature.is_char_boundary(cut) {
            cut -= 1;
        }
        let hash = feature.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| (h ^ b as u64).wrapping_mul(0x100_0000_01b3));
        format!("{}~{:08x}", &feature[..cut], hash as u32)
    };
    quote_ident(&name)
}
