#!/usr/bin/env bash
# The dashboard views, the Grafana dashboard, the scoring API and the model card, on the real data: the
# pack's nightly batch and dashboard SQL run as the main job runs them, then every panel of
# docker/grafana/dashboards/readmission.json runs its SQL as an analyst (no error, at least one row), the anonymous
# API role can call api.score_encounter and nothing else, and the model card covers its sections.
set -u
db=${PGDATABASE:?}
root=${HEALTHML_ROOT:?}
q() { psql -X -q -t -A -v ON_ERROR_STOP=1 -d "$db" "$@"; }
n=0
ok() { n=$((n + 1)); if [ "$1" = 0 ]; then echo "ok $n - $2"; else echo "not ok $n - $2"; fi; }

panels=$(python3 -c '
import json, sys
d = json.load(open(sys.argv[1]))
for p in d["panels"]:
    for t in p["targets"]:
        print(p["title"] + "\t" + t["rawSql"].replace("\n", " "))
' "$root/docker/grafana/dashboards/readmission.json")
echo "1..$(( $(printf '%s\n' "$panels" | wc -l) + 13 ))"

for f in train monitoring nightly dashboards api; do
    q -f "$root/sql/readmission/$f.sql" >/dev/null 2>&1 || echo "# $f.sql failed"
done
# the sampled scoring calls (1 % since train.sql) are in the inference log before the panels read it
q -c "SELECT healthml.flush_inference_log()" >/dev/null
q -c "SELECT count(*) = 2000 FROM readmission.nightly_scores" | grep -qx t
ok $? "the nightly batch scored the 2,000 latest discharges"
q -c "SELECT bool_and(jsonb_array_length(reasons) = 3) FROM readmission.nightly_scores" | grep -qx t
ok $? "with 3 reasons each"

# as Grafana's login role reads them: an analyst (docker/grafana/provisioning)
while IFS=$'\t' read -r title sql; do
    rows=$(q -c "SET ROLE healthml_analyst" -c "SELECT count(*) FROM ($sql) panel" 2>&1)
    [ "$rows" -gt 0 ] 2>/dev/null
    ok $? "Grafana panel \"$title\", read as an analyst: $rows rows"
done <<<"$panels"

out=$(q -c "SELECT api.score_encounter(e.encounter_id) FROM readmission.encounters e WHERE e.encounter_id = 12522")
echo "$out" | python3 -c 'import json,sys; d=json.load(sys.stdin); assert d["encounter_id"]==12522 and 0<=d["score"]<=1 and d["tier"] in ("low","medium","high") and len(d["reasons"])==3' 2>/dev/null
ok $? "api.score_encounter returns score, tier and 3 reasons: $out"
q -c "SET ROLE healthml_web_anon; SELECT healthml.predict('readmission', '{}')" 2>&1 | grep -q "permission denied"
ok $? "the anonymous API role cannot call healthml's scoring functions directly"
q -c "SET ROLE healthml_web_anon; SELECT (api.score_encounter(12522) ->> 'tier') IS NOT NULL" | grep -qx t
ok $? "the anonymous API role calls api.score_encounter"
q -c "SET ROLE healthml_web_anon; SELECT count(*) FROM readmission.encounters" 2>&1 | grep -q "permission denied"
ok $? "the anonymous API role reads no patient table"
q -c "SELECT api.score_encounter(-1)" 2>&1 | grep -q "encounter -1 does not exist"
ok $? "an unknown encounter is a clear error"

card=$(q -c "SELECT healthml.model_card('readmission')")
missing=0
for section in "# Model card: readmission, version 2" "## Data" "## Recipe" "## Test metrics" "## Threshold policy" \
               "## Subgroup audit" "## Drift" "## Top global features" "## Version history" "19858 test rows"; do
    grep -qF -- "$section" <<<"$card" || { missing=1; echo "# model card lacks: $section"; }
done
ok $missing "the model card has its sections and the real figures"
grep -q "| race | Caucasian |" <<<"$card"
ok $? "the model card shows the subgroup audit"
q -c "SET ROLE healthml_analyst; SELECT length(healthml.model_card('readmission')) > 1000" | grep -qx t
ok $? "an analyst reads the model card without reading recipes or options"
html=$(q -c "SET ROLE healthml_analyst; SELECT healthml.model_card('readmission', NULL, 'html')")
drawn=$(grep -o 'data-plot="[a-z_]*"' <<<"$html" | sort -u | paste -sd' ')
[ "$drawn" = 'data-plot="calibration" data-plot="drift" data-plot="drift_by_day" data-plot="importance" data-plot="pr" data-plot="roc" data-plot="subgroup_auc" data-plot="subgroup_calibration"' ] \
    && ! grep -q 'plot empty' <<<"$html"
ok $? "the HTML card draws all eight figures from the real model's stored figures, subgroup audit, drift and inference log (drawn: $drawn)"
# and a real browser draws them: chromium (headless, DevTools protocol) opens the saved page
page=$(mktemp -d)
printf '%s\n' "$html" >"$page/card.html"
rendered=$("${HEALTHML_PYTHON:?}" "$root/tests/oracle/render_page.py" "$page/card.html" "$page/card.png" 2>&1)
"$HEALTHML_PYTHON" - "$rendered" "$page/card.html" <<'PY'
import json, sys
try:
    r = json.loads(sys.argv[1])
except ValueError:
    sys.exit("# the browser did not render the page: " + sys.argv[1][:500])
bad = []
if r["requests"] != ["file://" + sys.argv[2]]:
    bad.append(f"requests besides the page itself: {r['requests']}")
if r["failed"] or r["empty"]:
    bad.append(f"failed loads {r['failed']}, empty figures {r['empty']}")
plots = ["calibration", "drift", "drift_by_day", "importance", "pr", "roc", "subgroup_auc", "subgroup_calibration"]
for p in plots:
    f = r["figures"].get(p)
    if not f or f["width"] < 100 or f["height"] < 100 or f["shapes"] < 3:
        bad.append(f"{p} not drawn: {f}")
print("\n".join("# " + b for b in bad))
sys.exit(1 if bad else 0)
PY
ok $? "chromium renders the page: all eight figures drawn, no request but the page itself, nothing failed to load"
[ -s "$page/card.png" ]
ok $? "and takes a screenshot of it"
rm -rf "$page"
