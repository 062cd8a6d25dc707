#!/usr/bin/env bash
# Docker is not available on the build machine, so the containers are validated here as far as that
# goes without running them: the compose file, the Dockerfile, the init script, and the Grafana
# provisioning parse and agree with each other and with the repository, and the SQL the containers
# run is the SQL the tests run.
set -u
root=${HEALTHML_ROOT:?}
exec python3 - "$root" <<'PY'
import json, os, re, subprocess, sys
import yaml

root = sys.argv[1]
d = os.path.join(root, "docker")
results = []
def check(ok, what):
    results.append((bool(ok), what))

compose = yaml.safe_load(open(os.path.join(d, "compose.yaml")))
services = compose.get("services", {})
check(set(services) == {"db", "grafana", "postgrest"}, "compose.yaml parses: services db, grafana, postgrest")
db = services.get("db", {})
check(db.get("build", {}).get("dockerfile") == "docker/Dockerfile" and db["build"].get("context") == "..",
      "the db service builds docker/Dockerfile from the repository root")
pgrst = services.get("postgrest", {}).get("environment", {})
check(pgrst.get("PGRST_DB_SCHEMAS") == "api" and pgrst.get("PGRST_DB_ANON_ROLE") == "healthml_web_anon",
      "PostgREST exposes schema api to the anonymous role healthml_web_anon")
mounts = [v.split(":")[0] for v in services.get("grafana", {}).get("volumes", [])]
check(mounts and all(os.path.isdir(os.path.join(d, m)) for m in mounts), "Grafana's mounted directories exist: " + ", ".join(mounts))
used = set(re.findall(r"\$\{([A-Z_]+)", open(os.path.join(d, "compose.yaml")).read()))
example = set(re.findall(r"^([A-Z_]+)=", open(os.path.join(d, ".env.example")).read(), re.M))
check(used and used <= example, ".env.example defines every variable compose.yaml uses: " + ", ".join(sorted(used)))

dockerfile = open(os.path.join(d, "Dockerfile")).read()
stages = re.findall(r"^FROM (\S+)", dockerfile, re.M)
check(len(stages) == 2 and all(s.startswith("postgres:15") for s in stages), "two stages, both on postgres:15: " + ", ".join(stages))
check("cargo-pgrx --version 0.18.0" in dockerfile and "postgresql-15-cron" in dockerfile, "pgrx 0.18.0 builds it, pg_cron ships with it")
check("shared_preload_libraries=pg_cron,pgaudit,healthml" in dockerfile and "postgresql-15-pgaudit" in dockerfile,
      "the server preloads pg_cron, pgaudit and healthml")
check(all(f'"{setting}"' in dockerfile for setting in ["pgaudit.role=healthml_auditor", "pgaudit.log=role", "pgaudit.log_parameter=off"]),
      "pgaudit audits as scripts/cluster sets it up (object audit through healthml_auditor, role changes, no parameters)")
cluster = open(os.path.join(root, "scripts", "lib", "common.sh")).read()
check(all(setting in cluster for setting in ["pgaudit.role=healthml_auditor", "pgaudit.log=role", "pgaudit.log_parameter=off"]),
      "the same settings as the private cluster")
sources = [s for line in re.findall(r"^COPY (?!--from)(.+)$", dockerfile, re.M) for s in line.split()[:-1]]
missing = [s for s in sources if not os.path.exists(os.path.join(root, s))]
check(sources and not missing, "every COPY source exists in the repository" + (": missing " + ", ".join(missing) if missing else ""))
members = re.findall(r'"([^"]+)"', re.search(r"^members = \[(.*)\]", open(os.path.join(root, "Cargo.toml")).read(), re.M).group(1))
needed = ["Cargo.toml", "Cargo.lock", "build.rs", "src"] + sorted({m.split("/")[0] for m in members if m != "."})
check(all(n in sources for n in needed), "the build stage copies what the workspace builds from: " + ", ".join(needed))

init = os.path.join(d, "initdb", "20-healthml.sh")
check(subprocess.run(["bash", "-n", init]).returncode == 0, "the init script is valid bash")
steps = re.findall(r"for step in ([a-z ]+); do", open(init).read())[0].split()
demo = open(os.path.join(root, "scripts", "demo")).read()
check(all(os.path.isfile(os.path.join(root, "sql", "readmission", s + ".sql")) and f"sql/readmission/{s}.sql" in demo for s in steps),
      "the init script runs the main job's SQL files: " + ", ".join(steps))
e2e = os.path.join(root, "tests", "e2e")
tested = " ".join(open(os.path.join(e2e, f)).read() for f in os.listdir(e2e) if os.path.isfile(os.path.join(e2e, f)))
check(all(re.search(rf"\b{s}\b", tested) for s in steps), "and the e2e tests run each of them")

ds = yaml.safe_load(open(os.path.join(d, "grafana", "provisioning", "datasources", "healthml.yaml")))["datasources"][0]
check(ds["type"] == "grafana-postgresql-datasource" and ds["jsonData"]["database"] == "healthml" and ds["user"] == "grafana_reader",
      "the Grafana data source is healthml, as grafana_reader")
prov = yaml.safe_load(open(os.path.join(d, "grafana", "provisioning", "dashboards", "healthml.yaml")))["providers"][0]
check(prov["options"]["path"] == "/var/lib/grafana/dashboards" and "/var/lib/grafana/dashboards" in " ".join(services["grafana"]["volumes"]),
      "the dashboard provider reads the mounted dashboards")
dash = json.load(open(os.path.join(d, "grafana", "dashboards", "readmission.json")))
sqls = [t["rawSql"] for p in dash["panels"] for t in p["targets"]]
check(len(sqls) == len(dash["panels"]) >= 8 and all(p["datasource"]["uid"] == ds["uid"] for p in dash["panels"]),
      f"{len(dash['panels'])} panels, each with SQL on the provisioned data source")
views = set(re.findall(r"readmission\.((?:dashboard|analyst)_\w+)", " ".join(sqls)))
defined = set(re.findall(r"CREATE OR REPLACE VIEW readmission\.(dashboard_\w+)", open(os.path.join(root, "sql", "readmission", "dashboards.sql")).read()))
# the analysts' pseudonymized views are made by a loop over (source, view) pairs
defined |= set(re.findall(r"'(analyst_\w+)'", open(os.path.join(root, "sql", "readmission", "pseudonyms.sql")).read()))
check(views and views <= defined, "every view the panels read is defined in sql/readmission/dashboards.sql or pseudonyms.sql: " + ", ".join(sorted(views)))

print(f"1..{len(results)}")
for i, (ok, what) in enumerate(results, 1):
    print(("ok" if ok else "not ok"), i, "-", what)
PY
