# shellcheck shell=bash
# Local shards of the readmission pack, as docs/reference/sharding.md sets them up for a DBA: N
# private clusters on the ports after the coordinator's, each a pack database holding the patients
# that PostgreSQL's hash partitioning of patient_nbr puts there, and a coordinator database on the
# private cluster that reads them as one partitioned readmission.encounters and publishes its model
# registry to them. Used by scripts/shards, tests/cluster/70_shards.sh and benches/shards. Source
# scripts/lib/common.sh first.

HEALTHML_SHARDS_DB=${HEALTHML_SHARDS_DB:-healthml_sharded}
# The registry tables scoring reads: a deploy on the coordinator reaches the shards through them.
SHARD_REGISTRY_TABLES="healthml.models, healthml.deployments, healthml.threshold_policies, healthml.inference_logging"

shard_dir() { echo "/var/tmp/healthml-shard-$(printf '%s' "$HEALTHML_ROOT" | cksum | cut -d' ' -f1)-$1"; }
shard_port() { echo $((HEALTHML_PGPORT + 30 + $1)); }
# Runs a command with the healthml scripts' settings pointing at shard $1's cluster.
shard_env() { local k=$1; shift; HEALTHML_CLUSTER_DIR=$(shard_dir "$k") HEALTHML_PGPORT=$(shard_port "$k") "$@"; }
shard_psql() {
    local k=$1; shift
    psql -X -q -v ON_ERROR_STOP=1 -h "$(shard_dir "$k")" -p "$(shard_port "$k")" -U postgres "$@"
}

# Splits the encounters file $1 by shard for $2 shards into $3/shard-K.csv, as the coordinator's hash
# partitioning of patient_nbr places them: every encounter of a patient on one shard, so the history
# features (earlier encounters of the same patient) are complete where they are computed.
shards_split_file() {
    local file=$1 count=$2 dir=$3 reader=(cat)
    [[ $file == *.gz ]] && reader=(gzip -dc)
    "${reader[@]}" "$file" | awk -F, 'NR > 1 { print $2 }' | sort -u >"$dir/patients"
    # placement: an empty table partitioned as the coordinator's readmission.encounters is, which
    # satisfies_hash_partition places patients by
    chmod 644 "$dir/patients"
    # one session: the server reads the list (as its owner), and says where each patient goes
    hm_psql -d "$HEALTHML_SHARDS_DB" -tA \
        -c "CREATE TEMP TABLE patients (patient_nbr bigint)" \
        -c "COPY patients FROM '$dir/patients'" \
        -c "CREATE TEMP TABLE placement (patient_nbr bigint) PARTITION BY HASH (patient_nbr)" \
        -c "COPY (SELECT p.patient_nbr, r.remainder + 1 FROM patients p CROSS JOIN generate_series(0, $count - 1) r(remainder)
                  WHERE satisfies_hash_partition('pg_temp.placement'::regclass, $count, r.remainder, p.patient_nbr))
            TO STDOUT WITH (FORMAT csv)" >"$dir/placement"
    "${reader[@]}" "$file" | awk -F, -v dir="$dir" -v count="$count" '
        NR == FNR { shard[$1] = $2; next }
        FNR == 1 { for (k = 1; k <= count; k++) print > (dir "/shard-" k ".csv"); next }
        { print > (dir "/shard-" shard[$2] ".csv") }
    ' "$dir/placement" -
}

# The coordinator's side, for shards 1..$1 (databases $HEALTHML_SHARDS_DB): a postgres_fdw server per
# shard, shippable healthml calls and asynchronous scans; readmission.encounters and readmission.cohort
# partitioned by hash of patient_nbr over the shards' scored_encounters and cohort views; and the
# publication of the registry.
shards_attach() {
    local count=$1 k sql
    sql="SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS healthml;
CREATE EXTENSION IF NOT EXISTS postgres_fdw;
CREATE SCHEMA readmission;"
    for k in $(seq 1 "$count"); do
        sql+="
CREATE SERVER shard_$k FOREIGN DATA WRAPPER postgres_fdw
    OPTIONS (host '$(shard_dir "$k")', port '$(shard_port "$k")', dbname '$HEALTHML_SHARDS_DB',
             extensions 'healthml', async_capable 'true', fetch_size '10000', batch_size '1000');
CREATE USER MAPPING FOR CURRENT_USER SERVER shard_$k OPTIONS (user 'postgres');
CREATE SCHEMA shard_$k;
IMPORT FOREIGN SCHEMA readmission LIMIT TO (scored_encounters, cohort) FROM SERVER shard_$k INTO shard_$k;"
    done
    sql+="
CREATE TABLE readmission.encounters (LIKE shard_1.scored_encounters) PARTITION BY HASH (patient_nbr);
CREATE TABLE readmission.cohort (LIKE shard_1.cohort) PARTITION BY HASH (patient_nbr);
-- readmit_score(e) reads as on one server: the score the shard computed, inlined into the query as
-- the column, so the call stays on the shard
CREATE FUNCTION readmission.readmit_score(e readmission.encounters) RETURNS double precision
    LANGUAGE sql IMMUTABLE PARALLEL SAFE RETURN e.readmit_score;
COMMENT ON FUNCTION readmission.readmit_score(readmission.encounters) IS
    'The probability of readmission the encounter''s shard computed with the deployed model \"readmission\" (readmission.scored_encounters there).';"
    for k in $(seq 1 "$count"); do
        sql+="
ALTER TABLE readmission.encounters ATTACH PARTITION shard_$k.scored_encounters FOR VALUES WITH (MODULUS $count, REMAINDER $((k - 1)));
ALTER TABLE readmission.cohort ATTACH PARTITION shard_$k.cohort FOR VALUES WITH (MODULUS $count, REMAINDER $((k - 1)));"
    done
    sql+="
CREATE PUBLICATION healthml_registry FOR TABLE $SHARD_REGISTRY_TABLES;"
    hm_psql -d "$HEALTHML_SHARDS_DB" >/dev/null <<<"$sql"
}

# Shard $1 subscribes to the coordinator's registry and waits until the copy is done.
shard_subscribe() {
    local k=$1
    shard_psql "$k" -d "$HEALTHML_SHARDS_DB" >/dev/null <<SQL
SET client_min_messages = warning;
CREATE SUBSCRIPTION healthml_registry
    CONNECTION 'host=$(cluster_real_dir) port=$HEALTHML_PGPORT dbname=$HEALTHML_SHARDS_DB user=postgres'
    PUBLICATION healthml_registry WITH (slot_name = 'healthml_registry_shard_$k');
SQL
    for _ in $(seq 1 300); do
        [ "$(shard_psql "$k" -d "$HEALTHML_SHARDS_DB" -tAc "SELECT count(*) FROM pg_subscription_rel WHERE srsubstate <> 'r'")" = 0 ] && return 0
        sleep 0.2
    done
    die "shard $k did not finish copying the registry"
}

# Waits until shard $1 holds as many deployments as the coordinator: a deploy there has reached it.
shard_caught_up() {
    local want
    want=$(hm_psql -d "$HEALTHML_SHARDS_DB" -tAc "SELECT count(*) FROM healthml.deployments")
    for _ in $(seq 1 100); do
        [ "$(shard_psql "$1" -d "$HEALTHML_SHARDS_DB" -tAc "SELECT count(*) FROM healthml.deployments")" = "$want" ] && return 0
        sleep 0.1
    done
    return 1
}

# Shards 1..$1 with their part of the encounters file $2, and the coordinator database.
shards_up() {
    local count=$1 file=$2 work k pids=() failed=
    work=$(mktemp -d)
    chmod 755 "$work"
    cluster_start
    hm_psql -d postgres -c "SET client_min_messages = warning" -c "DROP DATABASE IF EXISTS $HEALTHML_SHARDS_DB WITH (FORCE)" \
        -c "CREATE DATABASE $HEALTHML_SHARDS_DB" >/dev/null
    shards_split_file "$file" "$count" "$work"
    for k in $(seq 1 "$count"); do
        shard_env "$k" "$HEALTHML_ROOT/scripts/cluster" start 2>/dev/null
        shard_psql "$k" -d postgres -c "DROP DATABASE IF EXISTS $HEALTHML_SHARDS_DB WITH (FORCE)" >/dev/null 2>&1
        # a shard is a pack database like any other, loaded with its own patients (in parallel)
        shard_env "$k" env HEALTHML_DB="$HEALTHML_SHARDS_DB" "$HEALTHML_ROOT/scripts/load-readmission" \
            --encounters "$work/shard-$k.csv" >"$work/load-$k.log" 2>&1 &
        pids+=($!)
    done
    for k in $(seq 1 "$count"); do
        wait "${pids[$((k - 1))]}" || { failed+=" $k"; sed 's/^/    /' "$work/load-$k.log" >&2; }
    done
    rm -rf "$work"
    [ -z "$failed" ] || die "loading shard(s)$failed failed"
    shards_attach "$count"
    for k in $(seq 1 "$count"); do shard_subscribe "$k"; done
}

# Stops and removes shards 1..$1 and drops the coordinator database (its publication with it).
shards_down() {
    local count=$1 k dir
    for k in $(seq 1 "$count"); do
        dir=$(shard_dir "$k")
        [ -d "$dir" ] || continue
        # the subscription's slot lives on the coordinator: drop it with the subscription
        shard_psql "$k" -d "$HEALTHML_SHARDS_DB" -c "DROP SUBSCRIPTION IF EXISTS healthml_registry" >/dev/null 2>&1
        shard_env "$k" "$HEALTHML_ROOT/scripts/cluster" wipe >/dev/null 2>&1
    done
    cluster_running || return 0
    # a slot whose shard went away first would keep WAL on the coordinator forever
    hm_psql -d postgres -c "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots
                            WHERE database = '$HEALTHML_SHARDS_DB' AND NOT active" >/dev/null 2>&1
    hm_psql -d postgres -c "DROP DATABASE IF EXISTS $HEALTHML_SHARDS_DB WITH (FORCE)" >/dev/null 2>&1
    return 0
}
