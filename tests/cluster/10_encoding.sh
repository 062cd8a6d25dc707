#!/usr/bin/env bash
# healthml refuses a database whose encoding is not UTF-8 when it is created there (with the fix in
# the hint), instead of failing later on the first non-ASCII value.
set -uo pipefail
source "$HEALTHML_ROOT/tests/bin/tap.sh"
db=healthml_latin1
psql -X -q -d postgres -c "SET client_min_messages = warning" -c "DROP DATABASE IF EXISTS $db WITH (FORCE)" \
    -c "CREATE DATABASE $db ENCODING 'LATIN1' LC_COLLATE 'C' LC_CTYPE 'C' TEMPLATE template0"

plan 4
out=$(psql -X -q -d "$db" -v VERBOSITY=verbose -c '\set VERBOSITY verbose' -c 'CREATE EXTENSION healthml' 2>&1); rc=$?
ok $((rc == 0)) "CREATE EXTENSION fails in a LATIN1 database"
like "$out" '0A000: healthml needs a UTF8 database; database "healthml_latin1" uses LATIN1' "saying why, with SQLSTATE 0A000"
like "$out" "HINT:  create the database with ENCODING 'UTF8'" "and how to fix it"
is "$(psql -X -q -t -A -d "$db" -c "SELECT count(*) FROM pg_namespace WHERE nspname = 'healthml'")" 0 "and leaves nothing behind"
psql -X -q -d postgres -c "DROP DATABASE $db WITH (FORCE)"
