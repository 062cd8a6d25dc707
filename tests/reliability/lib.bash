# Helpers of the reliability tier's scripts: TAP output, psql against the tier's database.
set -u
db=${PGDATABASE:?}
PG_BIN=${PG_BIN:-/usr/lib/postgresql/15/bin}
n=0
q() { psql -X -q -t -A -v ON_ERROR_STOP=1 -d "$db" -c "$1"; }
check() {  # check "description" "SQL returning t"
    n=$((n + 1))
    local got
    got=$(q "$2" 2>&1)
    if [ "$got" = t ]; then echo "ok $n - $1"; else echo "not ok $n - $1"; echo "# got: $got"; fi
}
check_shell() {  # check_shell "description" command...
    n=$((n + 1))
    local desc=$1
    shift
    if "$@"; then echo "ok $n - $desc"; else echo "not ok $n - $desc"; fi
}
# A table of discharges, one row per encounter, patients with two encounters each.
make_discharges() {  # table rows
    q "DROP TABLE IF EXISTS $1;
       CREATE TABLE $1 AS
       SELECT i AS discharge_id, i / 2 AS patient_id, (abs(hashint4(i * 3)) % 10000) / 100.0 AS severity,
              CASE WHEN i % 4 = 0 THEN 'rehab' ELSE 'home' END AS destination,
              (abs(hashint4(i)) % 1000) / 1000.0 < 1 / (1 + exp(-(-3.0 + 0.04 * ((abs(hashint4(i * 3)) % 10000) / 100.0)
                                                             + CASE WHEN i % 4 = 0 THEN 1 ELSE 0 END))) AS readmitted
       FROM generate_series(1, $2) i;
       ALTER TABLE $1 ADD PRIMARY KEY (discharge_id)" >/dev/null
}
