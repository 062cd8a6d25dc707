"""Trains a LightGBM or XGBoost model on a CSV of cohort rows, as a data scientist would outside
the warehouse, and writes what healthml must reproduce: the model file, the import options (the
text columns' levels in code order, a renamed feature), and the library's own raw score,
probability and per-feature contributions (pred_contrib / pred_contribs) of every row.

usage: imported_models.py train LIBRARY WORK       (reads WORK/cohort.csv; LIBRARY: lightgbm or xgboost)
       imported_models.py compare LIBRARY WORK     (reads WORK/LIBRARY-healthml-*.tsv, prints one line per check)
       imported_models.py roundtrip LIBRARY WORK   (reads WORK/LIBRARY-exported.txt, healthml's LightGBM export)
"""
import csv
import json
import sys

import lightgbm
import numpy as np
import xgboost

NUMERIC = ["age_years", "time_in_hospital", "num_lab_procedures", "num_procedures", "num_medications",
           "number_outpatient", "number_emergency", "number_inpatient", "number_diagnoses",
           "prior_encounters", "previous_time_in_hospital"]
TEXT = ["race", "gender", "a1c_status", "admission_type"]
# The model's own name for a column, where it differs (the import maps it back).
MODEL_NAME = {"race": "race_code"}


def read(work):
    with open(f"{work}/cohort.csv") as f:
        rows = list(csv.DictReader(f))
    levels = {c: sorted({r[c] for r in rows if r[c] != ""}) for c in TEXT}
    code = {c: {level: i for i, level in enumerate(levels[c])} for c in TEXT}
    x = np.array([[float(r[c]) if r[c] != "" else np.nan for c in NUMERIC]
                  + [float(code[c][r[c]]) if r[c] != "" else np.nan for c in TEXT] for r in rows])
    y = np.array([r["readmitted_30d"] == "t" for r in rows], dtype=float)
    ids = [r["encounter_id"] for r in rows]
    return ids, x, y, levels


def train(library, work):
    ids, x, y, levels = read(work)
    names = NUMERIC + [MODEL_NAME.get(c, c) for c in TEXT]
    if library == "lightgbm":
        params = {"objective": "binary", "num_leaves": 31, "learning_rate": 0.1, "min_data_in_leaf": 50,
                  "seed": 7, "deterministic": True, "num_threads": 2, "verbose": -1}
        booster = lightgbm.train(params, lightgbm.Dataset(x, label=y, feature_name=names, categorical_feature=[]),
                                 num_boost_round=60)
        booster.save_model(f"{work}/lightgbm-model.txt")
        raw = booster.predict(x, raw_score=True)
        p = booster.predict(x)
        contrib = booster.predict(x, pred_contrib=True)
        trees = booster.num_trees()
    else:
        params = {"objective": "binary:logistic", "max_depth": 6, "eta": 0.1, "min_child_weight": 5,
                  "tree_method": "hist", "seed": 7, "nthread": 2}
        dtrain = xgboost.DMatrix(x, label=y, feature_names=names)
        booster = xgboost.train(params, dtrain, num_boost_round=60)
        booster.save_model(f"{work}/xgboost-model.json")
        data = xgboost.DMatrix(x, feature_names=names)
        raw = booster.predict(data, output_margin=True).astype(np.float64)
        p = booster.predict(data).astype(np.float64)
        contrib = booster.predict(data, pred_contribs=True).astype(np.float64)
        trees = len(booster.get_dump())
    with open(f"{work}/{library}.json", "w") as f:
        json.dump({"ids": ids, "raw": raw.tolist(), "p": p.tolist(), "contrib": contrib.tolist(), "names": names}, f)
    with open(f"{work}/{library}-options.json", "w") as f:
        json.dump({"columns": {MODEL_NAME[c]: c for c in MODEL_NAME}, "levels": levels,
                   "evaluate_on": "readmission.cohort", "target": "readmitted_30d"}, f)
    print(f"trees {trees}")


def relative(a, b):
    return np.abs(a - b) / np.maximum(np.abs(b), 1e-300)


def compare(library, work):
    with open(f"{work}/{library}.json") as f:
        ref = json.load(f)
    index = {e: i for i, e in enumerate(ref["ids"])}
    raw, p = np.array(ref["raw"]), np.array(ref["p"])
    # every row: encounter_id, probability
    got = {}
    with open(f"{work}/{library}-healthml-scores.tsv") as f:
        for line in f:
            e, prob = line.split("\t")
            got[e] = float(prob)
    order = [index[e] for e in got]
    worst = float(np.max(relative(np.array(list(got.values())), p[order])))
    print(f"scores rows {len(got)} {'ok' if worst <= 1e-12 else worst}")
    # sampled rows: encounter_id, raw score, base, {column: contribution}
    names = ref["names"]
    column_of = {MODEL_NAME.get(c, c): c for c in NUMERIC + TEXT}
    worst_raw = worst_contrib = 0.0
    n = 0
    with open(f"{work}/{library}-healthml-explained.tsv") as f:
        for line in f:
            e, r, base, contributions = line.rstrip("\n").split("\t")
            i = index[e]
            worst_raw = max(worst_raw, float(relative(np.array(float(r)), np.array(raw[i]))))
            by_column = json.loads(contributions)
            expected = ref["contrib"][i]
            mine = [by_column[column_of[name]] for name in names] + [float(base)]
            scale = max(abs(v) for v in expected)
            worst_contrib = max(worst_contrib, max(abs(a - b) for a, b in zip(mine, expected)) / scale)
            n += 1
    print(f"raw rows {n} {'ok' if worst_raw <= 1e-12 else worst_raw}")
    print(f"contributions rows {n} {'ok' if worst_contrib <= 1e-9 else worst_contrib}")


def roundtrip(library, work):
    """healthml's LightGBM export of the imported model scores the same rows as the original."""
    _, x, _, _ = read(work)
    with open(f"{work}/{library}.json") as f:
        p = np.array(json.load(f)["p"])
    exported = lightgbm.Booster(model_file=f"{work}/{library}-exported.txt").predict(x)
    worst = float(np.max(relative(exported, p)))
    print(f"roundtrip {'ok' if worst <= 1e-12 else worst}")


if __name__ == "__main__":
    {"train": train, "compare": compare, "roundtrip": roundtrip}[sys.argv[1]](sys.argv[2], sys.argv[3])
