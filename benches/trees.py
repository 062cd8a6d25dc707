"""LightGBM and lleaves on the very trees healthml scores, for benches/run.

Input: a directory holding, per model kind given on the command line, `<kind>.txt` (the model as
healthml.export_model writes it) and `<kind>.tsv` (per cohort row: the model's features as a
float8[] literal from healthml.features_row_by_id, a tab, healthml's probability). Output: one JSON
object per kind on stdout: µs per row of LightGBM's predict and of lleaves' predict, both on one
thread over every row (median of 5 passes), lleaves' compile seconds (0 when its cache of the same
model text was used), the largest relative difference of each from healthml's probabilities, and
ms per row of LightGBM's exact TreeSHAP (`pred_contrib`) one row at a time on the first 1,000 rows,
on one thread and on two, as healthml explains one row.
"""

import hashlib
import json
import sys
import time

import lightgbm
import lleaves
import numpy as np


def rows(path):
    features, scores = [], []
    with open(path) as f:
        for line in f:
            array, score = line.rstrip("\n").split("\t")
            features.append([float(x) for x in array.strip("{}").split(",")])
            scores.append(float(score))
    return np.array(features), np.array(scores)


def median_us(predict, x):
    passes = []
    for _ in range(5):
        started = time.perf_counter()
        p = predict(x)
        passes.append((time.perf_counter() - started) / len(x) * 1e6)
    return sorted(passes)[2], p


def contrib_ms_per_row(booster, x, threads):
    """LightGBM's pred_contrib of one row at a time, as a service explains a request."""
    booster.predict(x[:1], pred_contrib=True, num_threads=threads)
    started = time.perf_counter()
    for i in range(len(x)):
        booster.predict(x[i:i + 1], pred_contrib=True, num_threads=threads)
    return (time.perf_counter() - started) / len(x) * 1e3


def main(directory, kinds):
    for kind in kinds:
        x, expected = rows(f"{directory}/{kind}.tsv")
        model_file = f"{directory}/{kind}.txt"
        booster = lightgbm.Booster(model_file=model_file)
        lightgbm_us, p = median_us(lambda a: booster.predict(a, num_threads=1), x)
        lightgbm_diff = float(np.max(np.abs(p - expected) / np.abs(expected)))
        # lleaves compiles each tree to machine code (a minute for 1,200 trees): keep the library
        # per model text, as a service would
        digest = hashlib.sha256(open(model_file, "rb").read()).hexdigest()[:16]
        cache = f"{directory}/{kind}-{digest}.so"
        compiled = lleaves.Model(model_file=model_file)
        started = time.perf_counter()
        try:
            open(cache).close()
            compile_s = 0.0
        except FileNotFoundError:
            compile_s = None
        compiled.compile(cache=cache)
        if compile_s is None:
            compile_s = time.perf_counter() - started
        lleaves_us, p = median_us(lambda a: compiled.predict(a, n_jobs=1), x)
        lleaves_diff = float(np.max(np.abs(p - expected) / np.abs(expected)))
        contrib_ms = {threads: contrib_ms_per_row(booster, x[:1000], threads) for threads in (1, 2)}
        print(json.dumps({
            "kind": kind, "trees": booster.num_trees(), "rows": len(x),
            "lightgbm": lightgbm.__version__, "lightgbm_us": lightgbm_us, "lightgbm_max_rel_diff": lightgbm_diff,
            "lleaves_us": lleaves_us, "lleaves_compile_s": compile_s, "lleaves_max_rel_diff": lleaves_diff,
            "lightgbm_contrib_ms": contrib_ms[1], "lightgbm_contrib_2_threads_ms": contrib_ms[2],
        }))


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2:])
