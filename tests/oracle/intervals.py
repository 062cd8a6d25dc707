"""The metrics' 95 % intervals recomputed independently: scikit-learn's roc_auc_score,
average_precision_score, brier_score_loss and an unpenalized LogisticRegression of the outcome on the
scores' log-odds (calibration intercept and slope), each with sample_weight, on the same patient
resamples healthml draws (its splitmix64 generator replayed here from the seed), and numpy's
percentiles.

usage: intervals.py ROWS.tsv RESAMPLES SEED     (ROWS.tsv: label 0/1, score, group key per line)
prints one JSON object shaped like healthml.evaluate's "intervals" (estimate, low, high per figure)
"""
import json
import sys

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import average_precision_score, brier_score_loss, roc_auc_score

MASK = (1 << 64) - 1


def splitmix64(state):
    while True:
        state = (state + 0x9E3779B97F4A7C15) & MASK
        z = state
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK
        yield z ^ (z >> 31)


def calibration(y, p, w):
    x = np.log(np.clip(p, 1e-15, 1 - 1e-15) / (1 - np.clip(p, 1e-15, 1 - 1e-15))).reshape(-1, 1)
    fit = LogisticRegression(C=np.inf, solver="newton-cholesky", tol=1e-12, max_iter=200).fit(x, y, sample_weight=w)
    return float(fit.intercept_[0]), float(fit.coef_[0][0])


def figures(y, p, w):
    intercept, slope = calibration(y, p, w)
    return {
        "auc": roc_auc_score(y, p, sample_weight=w),
        "average_precision": average_precision_score(y, p, sample_weight=w),
        "brier": brier_score_loss(y, p, sample_weight=w),
        "calibration_intercept": intercept,
        "calibration_slope": slope,
    }


def main(path, resamples, seed):
    y, p, keys = [], [], []
    with open(path) as f:
        for line in f:
            label, score, key = line.rstrip("\n").split("\t")
            y.append(int(label == "t" or label == "1"))
            p.append(float(score))
            keys.append(key)
    y, p = np.array(y), np.array(p)
    # groups numbered in the byte order of their keys, as healthml numbers them
    distinct = sorted(set(keys), key=lambda k: k.encode())
    number = {k: i for i, k in enumerate(distinct)}
    group = np.array([number[k] for k in keys])
    n_groups = len(distinct)
    estimate = figures(y, p, np.ones(len(y)))
    draws = splitmix64(seed)
    samples = {k: [] for k in estimate}
    for _ in range(resamples):
        counts = np.zeros(n_groups)
        for _ in range(n_groups):
            counts[(next(draws) * n_groups) >> 64] += 1
        w = counts[group]
        if w[y == 1].sum() == 0 or w[y == 0].sum() == 0:
            continue
        for k, v in figures(y, p, w).items():
            samples[k].append(v)
    out = {k: {"estimate": estimate[k], "low": float(np.percentile(samples[k], 2.5)), "high": float(np.percentile(samples[k], 97.5))}
           for k in estimate}
    out["resamples_used"] = len(samples["auc"])
    out["groups"] = n_groups
    print(json.dumps(out))


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]), int(sys.argv[3]))
