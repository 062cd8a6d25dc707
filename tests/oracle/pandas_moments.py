"""Prints the pandas skewness/kurtosis of every integer column of the UCI file, as pgTAP assertions.

The oracle for tests/e2e/10_moments.sql (run once by hand; the test keeps its output):
    python3 tests/oracle/pandas_moments.py > /tmp/oracle.sql
"""
import pathlib

import pandas as pd

root = pathlib.Path(__file__).resolve().parents[2]
df = pd.read_csv(root / "data/diabetes-130/diabetic_data.csv.gz", na_values="?", keep_default_na=False, low_memory=False)
print(f"-- pandas {pd.__version__}")
for col in df.columns:
    if df[col].dtype.kind != "i" or col in ("encounter_id", "patient_nbr"):
        continue
    s = df[col].astype("float64")
    print(f"    ('{col}', {float(s.skew())!r}, {float(s.kurt())!r}, {float(s.mean())!r}, {float(s.std())!r}),")
