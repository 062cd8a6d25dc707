#!/usr/bin/env bash
# What PUBLIC, healthml_analyst and healthml_admin may execute, select or modify in schema healthml,
# read from the catalog, against the lists in docs/security.md ("```privileges ROLE" blocks): a
# grant nobody documented, or a documented one that is gone, fails here. Effective privileges: an
# admin is an analyst too, and everyone has what PUBLIC has. TAP output; run by prove.
set -u
source "$HEALTHML_ROOT/tests/bin/tap.sh"
doc=$HEALTHML_ROOT/docs/security.md

actual() { # role name as has_*_privilege takes it ('public' for PUBLIC)
    psql -X -q -t -A -v ON_ERROR_STOP=1 -v role="$1" <<'SQL'
SELECT line FROM (
    SELECT 'USAGE ON SCHEMA healthml' AS line WHERE has_schema_privilege(:'role', 'healthml', 'USAGE')
    UNION ALL
    SELECT 'EXECUTE ' || p.oid::regprocedure::text FROM pg_proc p
    WHERE p.pronamespace = 'healthml'::regnamespace AND has_function_privilege(:'role', p.oid, 'EXECUTE')
    UNION ALL
    SELECT priv || ' ' || c.oid::regclass::text FROM pg_class c, unnest(ARRAY['SELECT', 'INSERT', 'UPDATE', 'DELETE', 'TRUNCATE']) priv
    WHERE c.relnamespace = 'healthml'::regnamespace AND c.relkind IN ('r', 'v', 'm', 'p') AND has_table_privilege(:'role', c.oid, priv)
    UNION ALL
    SELECT 'USAGE ' || c.oid::regclass::text FROM pg_class c
    WHERE c.relnamespace = 'healthml'::regnamespace
      AND CASE WHEN c.relkind = 'S' THEN has_sequence_privilege(:'role', c.oid, 'USAGE') ELSE false END
    UNION ALL
    -- columns readable where the whole table is not
    SELECT 'SELECT ' || c.oid::regclass::text || ' (' || string_agg(a.attname, ', ' ORDER BY a.attnum) || ')'
    FROM pg_class c JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
    WHERE c.relnamespace = 'healthml'::regnamespace AND NOT has_table_privilege(:'role', c.oid, 'SELECT')
      AND has_column_privilege(:'role', c.oid, a.attnum, 'SELECT')
    GROUP BY c.oid
) l ORDER BY line COLLATE "C";
SQL
}

documented() { # role as the block names it
    awk -v role="$1" '$0 == "```privileges " role { on = 1; next } on && /^```/ { on = 0 } on' "$doc" | LC_ALL=C sort
}

plan 5
for role in PUBLIC healthml_analyst healthml_admin; do
    as=$role
    [ "$role" = PUBLIC ] && as=public
    got=$(actual "$as" | LC_ALL=C sort)
    want=$(documented "$role")
    if [ "$got" = "$want" ]; then
        ok 0 "what $role may do in schema healthml is what docs/security.md lists ($(printf '%s\n' "$got" | grep -c .) grants)"
    else
        ok 1 "what $role may do in schema healthml is what docs/security.md lists"
        diff <(printf '%s\n' "$want") <(printf '%s\n' "$got") | sed 's/^/#   (< documented, > granted) /'
    fi
done
public=$(actual public)
is "$(printf '%s\n' "$public" | grep -cE '^(SELECT|INSERT|UPDATE|DELETE|TRUNCATE|USAGE healthml)')" 0 "PUBLIC reads and writes no table, view or sequence of healthml"
is "$(printf '%s\n' "$public" | grep -E '^EXECUTE' | grep -vcE 'healthml\.(version|icd9_group|skewness|kurtosis|moments|moments_partial|moments_merge)\(')" 0 \
   "PUBLIC executes only version, icd9_group and the moment aggregates (no internal helper, no support function)"
