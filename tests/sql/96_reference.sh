#!/usr/bin/env bash
# shellcheck disable=SC2016  # the backticks in patterns are Markdown's code marks, not commands
# The docs find every function: docs/sql-api.md's table ("Every function: where it is documented,
# defined and tested") lists each public function of schema healthml, as installed, and nothing
# else; every page, source and test it points to exists, and each function is named on its page.
# TAP output; run by prove.
set -u
source "$HEALTHML_ROOT/tests/bin/tap.sh"
doc=$HEALTHML_ROOT/docs/sql-api.md

installed=$(psql -X -q -t -A -v ON_ERROR_STOP=1 -c "SELECT DISTINCT p.proname FROM pg_proc p
    WHERE p.pronamespace = 'healthml'::regnamespace AND p.proname !~ '^_' ORDER BY 1" | LC_ALL=C sort -u)
table=$(awk '/^## Every function/ { on = 1; next } on && /^## / { on = 0 } on && /^\| `/' "$doc")
listed=$(printf '%s\n' "$table" | sed -E 's/^\| `([a-z_0-9]+)`.*/\1/' | LC_ALL=C sort -u)

plan 5
ok "$([ "$(printf '%s\n' "$installed" | wc -l)" -gt 40 ] && echo 0 || echo 1)" "the installed public functions are found"
differences=$(diff <(printf '%s\n' "$installed") <(printf '%s\n' "$listed"))
is "$differences" "" "docs/sql-api.md lists every public function, and only those"
[ -n "$differences" ] && printf '%s\n' "$differences" | sed 's/^/#   (< installed, > listed) /'

# every link and path of the table exists
missing=$(printf '%s\n' "$table" | while IFS='|' read -r _ name page sources tests _; do
    target=$(printf '%s' "$page" | sed -E 's/.*\(([^)#]+).*/\1/')
    [ -f "$HEALTHML_ROOT/docs/$target" ] || echo "$name: page $target"
    for path in $(printf '%s %s' "$sources" "$tests" | grep -oE '`[^`]+`' | tr -d '`'); do
        [ -e "$HEALTHML_ROOT/$path" ] || echo "$name: $path"
    done
done)
is "$missing" "" "every page, source and test the table names exists"

# each function is named on the page the table sends a reader to
unnamed=$(printf '%s\n' "$table" | while IFS='|' read -r _ name page _; do
    fn=$(printf '%s' "$name" | tr -d ' `')
    target=$(printf '%s' "$page" | sed -E 's/.*\(([^)#]+).*/\1/')
    grep -q "healthml\.$fn\b" "$HEALTHML_ROOT/docs/$target" || echo "$fn on $target"
done)
is "$unnamed" "" "each function is named on its reference page"

# every relative link of the front door and the docs leads to a file of the repository
broken=$(cd "$HEALTHML_ROOT" && for f in README.md CONTRIBUTING.md CHANGELOG.md docs/*.md docs/reference/*.md; do
    grep -oE '\]\([^)]+\)' "$f" | sed -E 's/^\]\(//; s/\)$//' | grep -vE '^(https?:|mailto:|#)' | while read -r link; do
        [ -e "$(dirname "$f")/${link%%#*}" ] || echo "$f: $link"
    done
done)
is "$broken" "" "every relative link in README.md, CONTRIBUTING.md, CHANGELOG.md and docs/ leads to a file"
