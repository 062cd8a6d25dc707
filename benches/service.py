"""The alternative a team would build: a FastAPI + LightGBM scoring service that reads an encounter's
features from the same PostgreSQL by id, and a "pull the table to Python, score, write back" batch.
benches/service-run drives it; nothing here is part of healthml.

  service.py serve             the HTTP service (uvicorn app: service:app), model trained on start
  service.py load URL N SECS   N client threads hitting URL/score/<id> for SECS seconds
  service.py batch             pull readmission.cohort, score it, write public.python_scores back

Connection: the usual PG* environment variables. The model: LightGBM with the healthml gbdt's
learning rate, depth, subsampling and number of trees (BENCH_GBDT_PARAMS, JSON), on the training rows
of the reference split, with native categorical features.
"""

import io
import json
import os
import random
import statistics
import sys
import threading
import time

import lightgbm as lgb
import numpy as np
import pandas as pd
import psycopg

EXCLUDE = ["encounter_id", "patient_nbr", "readmitted", "in_cohort", "readmitted_30d",
           "admission_type", "discharge_disposition", "admission_source"]


def text(column):
    """Levels as text, whichever way they arrived: CSV gives booleans as t/f, psycopg as True/False."""
    return column.map(lambda v: None if v is None or (isinstance(v, float) and np.isnan(v))
                      else "t" if v is True else "f" if v is False else str(v)).astype(object)


def connect():
    return psycopg.connect(autocommit=True)


def read_frame(conn, query):
    buf = io.BytesIO()
    with conn.cursor() as cur:
        with cur.copy(f"COPY ({query}) TO STDOUT WITH (FORMAT csv, HEADER)") as copy:
            for chunk in copy:
                buf.write(chunk)
    buf.seek(0)
    return pd.read_csv(buf, low_memory=False)


class Model:
    def __init__(self, frame, params):
        self.columns = [c for c in frame.columns if c not in EXCLUDE]
        self.categorical = [c for c in self.columns if not pd.api.types.is_numeric_dtype(frame[c])]
        self.levels = {c: pd.Index(sorted(text(frame[c]).dropna().unique())) for c in self.categorical}
        train = frame[frame["patient_nbr"] % 5 != 0]
        self.booster = lgb.train(
            {"objective": "binary", "learning_rate": params.get("learning_rate", 0.05),
             "max_depth": params.get("max_depth", 6), "num_leaves": 2 ** params.get("max_depth", 6),
             "bagging_fraction": params.get("subsample", 0.8), "bagging_freq": 1,
             "feature_fraction": params.get("colsample_bytree", 0.3), "lambda_l2": params.get("l2", 1.0),
             "min_sum_hessian_in_leaf": 1e-3, "verbose": -1, "num_threads": 1},
            lgb.Dataset(self.encode(train), label=(text(train["readmitted_30d"]) == "t").astype(int)),
            num_boost_round=params.get("trees", 300))
        self.codes = {c: {level: i for i, level in enumerate(self.levels[c])} for c in self.categorical}

    def encode(self, frame):
        x = frame[self.columns].copy()
        for c in self.columns:
            if c in self.levels:
                x[c] = pd.Categorical(text(x[c]), categories=self.levels[c])
            else:  # a single row from psycopg: None and Decimal, not NaN and float
                x[c] = pd.to_numeric(x[c], errors="coerce").astype(float)
        return x

    def predict(self, frame, threads=0):
        return self.booster.predict(self.encode(frame), num_threads=threads)

    def predict_row(self, row):
        """One row (column -> value) straight into a numpy vector, without pandas: the category
        codes are the positions of the levels the booster was trained with."""
        x = np.empty((1, len(self.columns)))
        for i, c in enumerate(self.columns):
            v = row.get(c)
            if c in self.codes:
                level = None if v is None else "t" if v is True else "f" if v is False else str(v)
                x[0, i] = self.codes[c].get(level, np.nan)
            else:
                x[0, i] = np.nan if v is None else float(v)
        return float(self.booster.predict(x, num_threads=1)[0])


def make_app():
    from fastapi import FastAPI, HTTPException
    from psycopg_pool import ConnectionPool

    params = json.loads(os.environ.get("BENCH_GBDT_PARAMS", "{}"))
    with connect() as conn:
        model = Model(read_frame(conn, "SELECT * FROM readmission.cohort"), params)
    pool = ConnectionPool(min_size=2, max_size=4, kwargs={"autocommit": True})
    app = FastAPI()

    @app.get("/score/{encounter_id}")
    def score(encounter_id: int):
        with pool.connection() as conn, conn.cursor() as cur:
            # the patient first: the features view's history windows are partitioned by patient
            cur.execute("SELECT patient_nbr FROM readmission.encounters WHERE encounter_id = %s", (encounter_id,))
            patient = cur.fetchone()
            if patient is None:
                raise HTTPException(404, "no such encounter")
            cur.execute("SELECT * FROM readmission.features WHERE patient_nbr = %s AND encounter_id = %s", (patient[0], encounter_id))
            row = cur.fetchone()
            if row is None:
                raise HTTPException(404, "no such encounter")
            values = dict(zip([d.name for d in cur.description], row))
        return {"encounter_id": encounter_id, "score": model.predict_row(values)}

    @app.get("/ready")
    def ready():
        return {"ready": True}

    return app


def load(url, clients, seconds):
    import http.client
    from urllib.parse import urlparse

    with connect() as conn, conn.cursor() as cur:
        cur.execute("SELECT encounter_id FROM readmission.encounters")
        ids = [r[0] for r in cur.fetchall()]
    target = urlparse(url)
    latencies, errors = [], [0]
    lock = threading.Lock()
    deadline = time.monotonic() + seconds

    def client(seed):
        rng = random.Random(seed)
        connection = http.client.HTTPConnection(target.hostname, target.port, timeout=30)
        mine = []
        while time.monotonic() < deadline:
            t0 = time.perf_counter()
            connection.request("GET", f"/score/{rng.choice(ids)}")
            response = connection.getresponse()
            response.read()
            mine.append(time.perf_counter() - t0)
            if response.status != 200:
                with lock:
                    errors[0] += 1
        with lock:
            latencies.extend(mine)

    threads = [threading.Thread(target=client, args=(i,)) for i in range(clients)]
    started = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.monotonic() - started
    latencies.sort()
    print(json.dumps({"requests": len(latencies), "errors": errors[0], "seconds": elapsed,
                      "tps": len(latencies) / elapsed,
                      "p50_ms": 1000 * latencies[len(latencies) // 2],
                      "p99_ms": 1000 * latencies[int(len(latencies) * 0.99)]}))


def batch():
    params = json.loads(os.environ.get("BENCH_GBDT_PARAMS", "{}"))
    with connect() as conn:
        model = Model(read_frame(conn, "SELECT * FROM readmission.cohort"), params)
        t0 = time.perf_counter()
        frame = read_frame(conn, "SELECT * FROM readmission.cohort")
        pulled = time.perf_counter()
        scores = model.predict(frame)
        scored = time.perf_counter()
        with conn.cursor() as cur:
            cur.execute("DROP TABLE IF EXISTS public.python_scores")
            cur.execute("CREATE TABLE public.python_scores (encounter_id bigint PRIMARY KEY, score float8, scored_at timestamptz DEFAULT now())")
            with cur.copy("COPY public.python_scores (encounter_id, score) FROM STDIN") as copy:
                for key, s in zip(frame["encounter_id"], scores):
                    copy.write_row((int(key), float(s)))
        written = time.perf_counter()
    print(json.dumps({"rows": len(frame), "threads": "all cores", "pull_s": pulled - t0, "score_s": scored - pulled,
                      "write_s": written - scored, "total_s": written - t0}))


if __name__ == "__main__":
    mode = sys.argv[1] if len(sys.argv) > 1 else "serve"
    if mode == "load":
        load(sys.argv[2], int(sys.argv[3]), float(sys.argv[4]))
    elif mode == "batch":
        batch()
    else:
        sys.exit("run the service with: uvicorn service:app (benches/service-run does)")
else:
    app = make_app() if os.environ.get("BENCH_SERVICE") == "1" else None
