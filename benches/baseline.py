"""Python baselines for benches/run: scikit-learn LogisticRegression and LightGBM on the same rows,
split and features as healthml's readmission models.

Input: a CSV of readmission.cohort written by psql (benches/run does it), the list of excluded
columns, and the gbdt settings to match. Output: one JSON object per model on stdout with the fit
time (seconds, the fit call only, as healthml's figure is the train call) and the test metrics.

Features are encoded as healthml does by default: for logistic regression one-hot text and code
columns (levels under 0.5% folded), median-imputed and z-scored numbers; for gradient boosting each
text column becomes its level's share of the training rows. Encodings are fitted on training rows only.
"""

import json
import sys
import time

import lightgbm as lgb
import numpy as np
import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import average_precision_score, roc_auc_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler


def main(csv_path, exclude, gbdt):
    df = pd.read_csv(csv_path, low_memory=False, keep_default_na=False, na_values=[""])
    y = (df.pop("readmitted_30d") == "t").to_numpy()
    test = (df["patient_nbr"] % 5 == 0).to_numpy()
    X = df.drop(columns=[c for c in exclude + ["patient_nbr"] if c in df.columns])
    # Integer codes (…_id) are categories, as healthml's recipe treats them.
    codes = [c for c in X.columns if c.endswith("_id")]
    text = [c for c in X.columns if not pd.api.types.is_numeric_dtype(X[c])] + codes
    numbers = [c for c in X.columns if c not in text]
    X[text] = X[text].astype("string").fillna("(missing)")
    results = []

    logistic = make_pipeline(
        ColumnTransformer([
            ("text", OneHotEncoder(min_frequency=0.005, handle_unknown="infrequent_if_exist"), text),
            ("numbers", make_pipeline(SimpleImputer(strategy="median"), StandardScaler()), numbers),
        ]),
        LogisticRegression(C=1.0, max_iter=1000),
    )
    results.append(fit_and_score("scikit-learn LogisticRegression (lbfgs, C=1)", logistic, X, y, test))

    frequency = X.copy()
    for c in text:
        shares = frequency.loc[~test, c].value_counts(normalize=True)
        frequency[c] = frequency[c].map(shares).fillna(0.0).astype(float)
    booster = lgb.LGBMClassifier(
        n_estimators=gbdt["trees"], learning_rate=gbdt["learning_rate"], max_depth=gbdt["max_depth"],
        num_leaves=2 ** gbdt["max_depth"], subsample=gbdt["subsample"], subsample_freq=1,
        colsample_bytree=gbdt["colsample_bytree"], reg_lambda=gbdt["l2"], min_child_samples=20,
        n_jobs=2, verbose=-1, random_state=42,
    )
    label = f"LightGBM {lgb.__version__} ({gbdt['trees']} trees, depth {gbdt['max_depth']})"
    results.append(fit_and_score(label, booster, frequency, y, test))
    for r in results:
        print(json.dumps(r))


def fit_and_score(label, model, X, y, test):
    started = time.perf_counter()
    model.fit(X[~test], y[~test])
    seconds = time.perf_counter() - started
    p = model.predict_proba(X[test])[:, 1]
    return {"model": label, "fit_seconds": round(seconds, 2), "test_auc": round(roc_auc_score(y[test], p), 4),
            "test_average_precision": round(average_precision_score(y[test], p), 4), "test_rows": int(test.sum())}


if __name__ == "__main__":
    main(sys.argv[1], json.loads(sys.argv[2]), json.loads(sys.argv[3]))
