use super::sql::float_literal;
use super::*;
use crate::error::ErrorClass;
use crate::frame::{CategoricalBuilder, Column, ColumnData, Frame};
use crate::stats::Moments;
use serde_json::json;

fn frame() -> Frame {
    let n = 200;
    let skewed: Vec<Option<f64>> = (0..n).map(|i| if i % 50 == 0 { None } else { Some(((i % 20) as f64).powi(3)) }).collect();
    let normalish: Vec<Option<f64>> = (0..n).map(|i| Some(((i * 37) % 101) as f64 - 50.0)).collect();
    let codes: Vec<Option<f64>> = (0..n).map(|i| Some((i % 3 + 1) as f64)).collect();
    let ids: Vec<Option<f64>> = (0..n).map(|i| Some(i as f64)).collect();
    let mut race = CategoricalBuilder::default();
    for i in 0..n {
        race.push(match i % 10 {
            0 => None,
            1..=6 => Some("Caucasian"),
            7 | 8 => Some("AfricanAmerican"),
            _ => Some(if i == 9 { "Rare" } else { "Asian" }),
        });
    }
    Frame {
        columns: vec![
            Column::new("encounter_id", "bigint", crate::frame::ValueKind::Integer, ColumnData::Numeric(ids)),
            Column::new("visits", "integer", crate::frame::ValueKind::Integer, ColumnData::Numeric(skewed)),
            Column::new("delta", "double precision", crate::frame::ValueKind::Real, ColumnData::Numeric(normalish)),
            Column::new("admission_type_id", "integer", crate::frame::ValueKind::Integer, ColumnData::Numeric(codes)),
            Column::new("race", "text", crate::frame::ValueKind::Text, race.finish()),
        ],
    }
}

#[test]
fn fits_the_documented_steps() {
    let options = RecipeOptions { rare_threshold: 0.01, ..Default::default() };
    let (recipe, reports) = fit_recipe(&frame(), "t", &options).unwrap();
    let actions: Vec<&str> = reports.iter().map(|r| r.action).collect();
    assert_eq!(actions, ["dropped", "numeric", "numeric", "one_hot", "one_hot"]);
    let Step::Numeric { log1p, impute, .. } = &recipe.steps[1] else { panic!() };
    assert!(*log1p, "cubes are strongly skewed");
    assert!(*impute > 0.0);
    let Step::Numeric { log1p, .. } = &recipe.steps[2] else { panic!() };
    assert!(!*log1p, "symmetric with negatives: no log");
    let Step::Categorical { levels, other, from_number, .. } = &recipe.steps[3] else { panic!() };
    assert_eq!(levels, &["1", "2", "3"]);
    assert!(!*other && *from_number);
    let Step::Categorical { levels, other, .. } = &recipe.steps[4] else { panic!() };
    assert_eq!(levels, &["Caucasian", "AfricanAmerican", "(missing)", "Asian"]);
    assert!(*other, "Rare (1 of 200) is folded");
    assert!(reports[1].skewness_after.unwrap().abs() < reports[1].skewness_before.unwrap().abs());
    assert_eq!(
        recipe.feature_names(),
        [
            "visits",
            "delta",
            "admission_type_id=1",
            "admission_type_id=2",
            "admission_type_id=3",
            "race=Caucasian",
            "race=AfricanAmerican",
            "race=(missing)",
            "race=Asian",
            "race=(other)"
        ]
    );
}

#[test]
fn standardized_columns_have_mean_zero_and_unit_sd() {
    let (recipe, _) = fit_recipe(&frame(), "t", &RecipeOptions { winsorize: None, ..Default::default() }).unwrap();
    let features = recipe.apply_frame(&frame()).unwrap();
    for f in &features[..2] {
        let m: Moments = f.iter().map(|&x| Some(x)).collect();
        assert!(m.mean().unwrap().abs() < 1e-12);
        assert!((m.stddev().unwrap() - 1.0).abs() < 1e-12);
    }
}

#[test]
fn json_rows_follow_the_frame_path() {
    let f = frame();
    let options = RecipeOptions { rare_threshold: 0.01, ..Default::default() };
    let (recipe, _) = fit_recipe(&f, "t", &options).unwrap();
    let features = recipe.apply_frame(&f).unwrap();
    let row = json!({"encounter_id": 7, "visits": 343, "delta": "7", "admission_type_id": 2, "race": "AfricanAmerican"});
    let got = recipe.apply_json_row(row.as_object().unwrap()).unwrap();
    let want: Vec<f64> = features.iter().map(|f| f[7]).collect();
    assert_eq!(got, want);
    // NULL and a missing key are imputed alike; an unseen level goes to (other)
    let a = recipe.apply_json_row(json!({"visits": null, "race": "Martian"}).as_object().unwrap()).unwrap();
    let b = recipe.apply_json_row(json!({"race": "Martian"}).as_object().unwrap()).unwrap();
    assert_eq!(a, b);
    assert_eq!(a[9], 1.0);
}

#[test]
fn bad_rows_and_options_are_refused() {
    let (recipe, _) = fit_recipe(&frame(), "t", &RecipeOptions::default()).unwrap();
    let e = recipe.apply_json_row(json!({"vists": 3}).as_object().unwrap()).unwrap_err();
    assert_eq!(e.class(), ErrorClass::UndefinedColumn);
    let e = recipe.apply_json_row(json!({"visits": "many"}).as_object().unwrap()).unwrap_err();
    assert_eq!(e.class(), ErrorClass::InvalidTextRepresentation);
    let e = recipe.apply_json_row(json!({"visits": [1]}).as_object().unwrap()).unwrap_err();
    assert_eq!(e.class(), ErrorClass::DatatypeMismatch);
    let e = fit_recipe(&frame(), "t", &RecipeOptions { drop: vec!["nope".into()], ..Default::default() }).unwrap_err();
    assert_eq!(e.message(), "column \"nope\" named in option \"drop\" does not exist in t");
    let e = fit_recipe(
        &frame(),
        "t",
        &RecipeOptions { log_transform: LogTransform::Columns(vec!["delta".into()]), ..Default::default() },
    )
    .unwrap_err();
    assert!(e.message().contains("negative"), "{e}");
    assert!(RecipeOptions::from_json(&json!({"scale": "minmax"})).is_err());
    assert!(RecipeOptions::from_json(&json!({"winsorize": [0.9, 0.1]})).is_err());
    assert!(RecipeOptions::from_json(&json!({"winsorize": false})).unwrap().winsorize.is_none());
    assert!(Recipe::from_json(&json!({"format": 99})).is_err());
}

#[test]
fn target_encoding_uses_rates_out_of_fold_and_the_prior_for_unseen_levels() {
    let f = frame();
    let target = RecipeOptions { encoding: Some(Encoding::Target), ..Default::default() };
    let e = fit_recipe(&f, "t", &target).unwrap_err();
    assert!(e.message().contains("needs the target"), "{e}");
    let (mut recipe, _) =
        fit_recipe(&f, "t", &RecipeOptions { encoding: Some(Encoding::Frequency), ..Default::default() }).unwrap();
    // Caucasian rows are mostly positive, the others mostly not.
    let race = f.column("race").unwrap();
    let labels: Vec<bool> =
        (0..f.rows()).map(|r| (f.cell_text(race, r).as_deref() == Some("Caucasian")) != (r % 7 == 0)).collect();
    let fold: Vec<usize> = (0..f.rows()).map(|r| r % 4).collect();
    let converted = target_encode(&mut recipe, &f, &labels, &fold, 4).unwrap();
    assert_eq!(converted.iter().map(|c| c.0).collect::<Vec<_>>(), [2, 3], "the two level-reading columns");
    let Step::TargetRate { rates, prior, levels, .. } = &recipe.steps[4] else { panic!("{:?}", recipe.steps[4]) };
    let caucasian = levels.iter().position(|l| l == "Caucasian").unwrap();
    assert!(rates[caucasian] > 0.7 && rates[caucasian] < 0.9, "{rates:?}");
    let positives = labels.iter().filter(|&&y| y).count() as f64;
    assert_eq!(*prior, positives / 200.0);
    let unseen = recipe.apply_json_row(json!({"race": "Martian"}).as_object().unwrap()).unwrap();
    assert_eq!(unseen[3], *prior);
    // a row's out-of-fold rate does not move when its own label flips
    let mut flipped = labels.clone();
    flipped[1] = !flipped[1];
    let (mut again, _) =
        fit_recipe(&f, "t", &RecipeOptions { encoding: Some(Encoding::Frequency), ..Default::default() }).unwrap();
    let other = target_encode(&mut again, &f, &flipped, &fold, 4).unwrap();
    assert_eq!(other[1].1[1], converted[1].1[1]);
    assert_ne!(other[1].1[2], converted[1].1[2], "rows of other folds see the flip");
    // the SQL form computes what the Rust form does
    let sql = recipe.sql_select_list();
    assert!(sql[3].0.contains("ELSE") && sql[3].0.ends_with(&format!("ELSE {} END", float_literal(*prior))), "{}", sql[3].0);
}

#[test]
fn frequency_encoding_gives_one_feature_per_column() {
    let options = RecipeOptions { encoding: Some(Encoding::Frequency), ..Default::default() };
    let f = frame();
    let (recipe, reports) = fit_recipe(&f, "t", &options).unwrap();
    assert_eq!(recipe.feature_names(), ["visits", "delta", "admission_type_id", "race"]);
    assert_eq!(reports[4].action, "frequency");
    let x = recipe.apply_frame(&f).unwrap();
    assert_eq!(x[3][1], 0.6, "Caucasian is 6 in 10 rows");
    let unseen = recipe.apply_json_row(json!({"race": "Martian"}).as_object().unwrap()).unwrap();
    assert_eq!(unseen[3], 0.0);
    let coded = recipe.apply_json_row(json!({"admission_type_id": 2}).as_object().unwrap()).unwrap();
    assert!((coded[2] - 67.0 / 200.0).abs() < 1e-12, "{coded:?}");
}

#[test]
fn recipes_round_trip_through_json() {
    let (recipe, _) = fit_recipe(&frame(), "t", &RecipeOptions::default()).unwrap();
    assert_eq!(Recipe::from_json(&recipe.to_json()).unwrap(), recipe);
}

#[test]
fn sql_names_are_quoted_and_short() {
    assert_eq!(quote_ident("a\"b"), "\"a\"\"b\"");
    assert_eq!(quote_literal("it's"), "'it''s'");
    let long = format!("medical_specialty={}", "x".repeat(80));
    let name = sql_column_name(&long);
    assert!(name.len() <= MAX_IDENTIFIER_BYTES + 2, "{name}");
    assert_ne!(sql_column_name(&format!("{long}1")), sql_column_name(&format!("{long}2")));
    assert_eq!(float_literal(0.1), "float8 '0.1'");
}

#[test]
fn relation_names_parse_as_postgresql_reads_them() {
    let parts = |t: &str| parse_qualified_name(t);
    assert_eq!(parts("Readmission.Cohort"), Some(vec!["readmission".into(), "cohort".into()]));
    assert_eq!(parts("s.\"Odd \"\"Name\"\"\""), Some(vec!["s".into(), "Odd \"Name\"".into()]));
    assert_eq!(parts(" cohort "), Some(vec!["cohort".into()]));
    for bad in ["", "a.", ".a", "a b", "a;DROP TABLE x", "\"unterminated", "1abc", "a.b.c.d", "\"\""] {
        assert_eq!(parts(bad), None, "{bad:?}");
    }
}

#[test]
fn many_levels_are_found_by_hash_as_by_scan() {
    let levels: Vec<String> = (0..300).map(|i| format!("V{i:03}")).collect();
    let rates: Vec<f64> = (0..300).map(|i| i as f64 / 1000.0).collect();
    let few: Vec<String> = ["a", "b"].iter().map(|s| s.to_string()).collect();
    let recipe = Recipe {
        format: RECIPE_FORMAT,
        source: "t".into(),
        rows: 0,
        steps: vec![
            Step::TargetRate {
                column: "diag".into(),
                from_number: false,
                impute: "V299".into(),
                levels: levels.clone(),
                rates,
                prior: -1.0,
            },
            Step::Categorical { column: "ward".into(), from_number: false, impute: "a".into(), levels: few, other: true },
            Step::Codes { column: "code".into(), from_number: true, levels: levels.clone() },
        ],
        level_index: Default::default(),
    };
    for (i, level) in levels.iter().enumerate() {
        let features = recipe.apply_cells(&[Cell::Text(level), Cell::Text("b"), Cell::Text(level)]);
        assert_eq!(features, vec![i as f64 / 1000.0, 0.0, 1.0, 0.0, i as f64], "level {level}");
    }
    // unseen levels: the prior, "other", no code; NULL: the imputed level
    let unseen = recipe.apply_cells(&[Cell::Text("V999"), Cell::Text("z"), Cell::Text("V999")]);
    assert_eq!(unseen[..4], [-1.0, 0.0, 0.0, 1.0]);
    assert!(unseen[4].is_nan());
    assert_eq!(recipe.apply_cells(&[Cell::Null, Cell::Null, Cell::Null])[0], 0.299);
    // a clone, and a recipe read back from its JSON, index their own levels
    let read_back = Recipe::from_json(&recipe.to_json()).unwrap();
    assert_eq!(read_back, recipe.clone());
    assert_eq!(read_back.apply_cells(&[Cell::Text("V123"), Cell::Null, Cell::Text("V007")])[0], 0.123);
}
