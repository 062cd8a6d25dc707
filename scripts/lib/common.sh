# shellcheck shell=bash
# Shared by the healthml scripts: where things live, how to run as the cluster's user, and the
# idempotent setup steps. Source it; do not run it. Every setting can be overridden from the
# environment (see the README, "The private cluster").

set -euo pipefail

HEALTHML_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
PG_MAJOR=15
PG_BIN=/usr/lib/postgresql/$PG_MAJOR/bin
PG_CONFIG=$PG_BIN/pg_config
PGRX_VERSION=0.18.0
HEALTHML_PGPORT=${HEALTHML_PGPORT:-28815}
HEALTHML_CLUSTER_DIR=${HEALTHML_CLUSTER_DIR:-$HEALTHML_ROOT/target/pgcluster}
HEALTHML_DB=${HEALTHML_DB:-healthml}
APT_PACKAGES=(postgresql-15 postgresql-server-dev-15 libclang-dev clang
              postgresql-15-cron postgresql-15-pgaudit postgresql-15-pgtap pgtap sudo python3-yaml python3-venv binutils)
# Only the tests need these (scripts/test installs them): chromium renders the HTML model card.
APT_TEST_PACKAGES=(chromium)

if [ -t 2 ]; then _bold=$'\033[1m'; _off=$'\033[0m'; else _bold=; _off=; fi
log() { printf '%s==> %s%s\n' "$_bold" "$*" "$_off" >&2; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }

is_root() { [ "$(id -u)" = 0 ]; }
as_root() { if is_root; then "$@"; else sudo "$@"; fi; }

# The server's environment: a developer's RUST_BACKTRACE would make every error raised through
# pgrx carry a Rust backtrace in its DETAIL, which users of the server must not see.
SERVER_ENV=(env -u RUST_BACKTRACE -u RUST_LIB_BACKTRACE)

# initdb and postgres refuse to run as root: as root, the private cluster belongs to `postgres`.
cluster_owner() { if is_root; then echo postgres; else id -un; fi; }
as_cluster_owner() { if is_root; then runuser -u postgres -- "$@"; else "$@"; fi; }

ensure_apt_packages() { # packages (default: APT_PACKAGES)
    local missing=() pkg
    [ $# -gt 0 ] || set -- "${APT_PACKAGES[@]}"
    for pkg in "$@"; do
        dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed' \
            || missing+=("$pkg")
    done
    [ ${#missing[@]} -eq 0 ] && return 0
    log "installing missing apt packages: ${missing[*]}"
    as_root apt-get update -qq
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
}

ensure_cargo_pgrx() {
    command -v cargo >/dev/null || die "cargo is not installed: install a Rust toolchain (rustup) first"
    if ! cargo pgrx --version 2>/dev/null | grep -qF "$PGRX_VERSION"; then
        log "installing cargo-pgrx $PGRX_VERSION (once; about 18 minutes on 2 cores)"
        cargo install --locked cargo-pgrx --version "$PGRX_VERSION"
    fi
    local config="${PGRX_HOME:-$HOME/.pgrx}/config.toml"
    if ! grep -qF "pg$PG_MAJOR = \"$PG_CONFIG\"" "$config" 2>/dev/null; then
        log "registering PostgreSQL $PG_MAJOR with pgrx"
        cargo pgrx init --pg$PG_MAJOR "$PG_CONFIG" >/dev/null
    fi
}

ensure_prerequisites() {
    ensure_apt_packages
    ensure_cargo_pgrx
}

# A Python venv in which `import <modules>` works: made, or completed with pip, only when it does not.
ensure_venv() { # directory, modules as Python's import statement lists them, pip requirements...
    local venv=$1 modules=$2
    shift 2
    "$venv/bin/python" -c "import $modules" 2>/dev/null && return 0
    log "installing $* into $venv (once)"
    python3 -m venv "$venv" || die "python3 -m venv failed: install python3-venv"
    "$venv/bin/pip" install -q --disable-pip-version-check "$@" || die "pip could not install $*"
}

# A Python for the interoperability tests: pyarrow (the lake: it reads our files, writes files we
# read), LightGBM and lleaves (exported models: they load and score them), XGBoost (imported
# models: it trains them), scikit-learn (the metrics' intervals: it recomputes them), websocket-client
# (it drives chromium's DevTools protocol to render the HTML model card). Kept outside the checkout so
# fresh clones reuse it; sets HEALTHML_PYTHON. lleaves needs an llvmlite before 0.44. XGBoost is its CPU-only package (the
# default one pulls half a gigabyte of CUDA libraries), pinned: the import tests compare
# explanations bit for bit with its TreeSHAP, which later releases compute another way.
HEALTHML_TEST_PYTHON_DIR=${HEALTHML_TEST_PYTHON_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/healthml/test-python}
ensure_test_python() {
    ensure_apt_packages "${APT_TEST_PACKAGES[@]}"
    ensure_venv "$HEALTHML_TEST_PYTHON_DIR" 'pyarrow, lightgbm, lleaves, xgboost, sklearn, websocket' 'pyarrow>=14' 'lightgbm>=4' \
        lleaves 'llvmlite<0.44' 'xgboost-cpu==3.2.0' 'scikit-learn>=1.3' 'websocket-client>=1.6'
    export HEALTHML_PYTHON=$HEALTHML_TEST_PYTHON_DIR/bin/python
}

# Builds the extension in release mode and installs it into the system PostgreSQL 15, whose binaries
# the private cluster runs. Cargo makes this quick when nothing changed.
build_and_install() {
    log "building and installing the healthml extension (release)"
    local sudo_flag=()
    is_root || sudo_flag=(--sudo)
    # a fresh clone has no target/ yet: cargo makes it, but only after this log is opened
    mkdir -p "$HEALTHML_ROOT/target"
    # A running server maps the installed library (it is preloaded): cargo pgrx writes the new one
    # into the same file, which would change the code under running processes. Set the old file
    # aside first (they keep it), so the new library is a new file; put it back if the build fails.
    local library
    library=$("$PG_CONFIG" --pkglibdir)/healthml.so
    [ -e "$library" ] && as_root mv -f "$library" "$library.previous"
    (cd "$HEALTHML_ROOT" && cargo pgrx install --release --pg-config "$PG_CONFIG" "${sudo_flag[@]}") \
        >"$HEALTHML_ROOT/target/pgrx-install.log" 2>&1 || {
        [ -e "$library.previous" ] && as_root mv -f "$library.previous" "$library"
        tail -n 40 "$HEALTHML_ROOT/target/pgrx-install.log" >&2
        die "building or installing the extension failed (full log: target/pgrx-install.log)"
    }
    as_root rm -f "$library.previous"
}

# Released versions, each with the commit it was built from: the upgrade tier starts from each.
# shellcheck disable=SC2034  # read by the scripts that source this file (the upgrade tier)
RELEASES=("0.1.0 1177cb6")
HEALTHML_RELEASE_CACHE=${HEALTHML_RELEASE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/healthml/releases}

# The installable files (cargo pgrx package) of a released version, built once from its commit and
# kept by commit outside the checkout, so that fresh clones and warm CI runs reuse them. Prints the
# package's root directory (usr/lib/postgresql/15/lib/healthml.so, usr/share/.../extension/...).
release_package() { # version, commit
    local version=$1 commit=$2 cache src
    cache=$HEALTHML_RELEASE_CACHE/$version-$commit
    if [ ! -e "$cache/.complete" ]; then
        log "building healthml $version from commit $commit for the upgrade tier (once; cached in $cache)"
        git -C "$HEALTHML_ROOT" cat-file -e "$commit^{commit}" 2>/dev/null \
            || die "commit $commit of release $version is not in this clone: fetch the full history"
        src=$(mktemp -d)
        git -C "$HEALTHML_ROOT" archive "$commit" | tar -x -C "$src"
        (cd "$src" && cargo pgrx package --pg-config "$PG_CONFIG" --out-dir "$src/package") >"$src/build.log" 2>&1 || {
            tail -n 40 "$src/build.log" >&2
            die "building healthml $version failed (log: $src/build.log)"
        }
        rm -rf "$cache"
        mkdir -p "$cache"
        cp -a "$src/package/." "$cache/"
        touch "$cache/.complete"
        rm -rf "$src"
    fi
    echo "$cache"
}

# Installs a healthml.so and extension files (control, SQL) into the system PostgreSQL 15 as the
# only healthml files there, with the private cluster stopped meanwhile: running backends map the
# library, and writing into it in place would crash them. For the upgrade tier and the fixtures of
# released versions, which put the current build's files back with the two functions below.
install_extension_files() { # library, then extension files
    local library=$1 extdir
    shift
    extdir=$("$PG_CONFIG" --sharedir)/extension
    cluster_stop >/dev/null 2>&1
    as_root rm -f "$extdir"/healthml--*.sql
    as_root cp --remove-destination "$library" "$("$PG_CONFIG" --pkglibdir)/healthml.so"
    as_root cp --remove-destination "$@" "$extdir/"
    cluster_start >/dev/null
}

# Installs the files of a package tree (release_package's, laid out as the system's directories).
install_package_files() {
    local libdir extdir
    libdir=$("$PG_CONFIG" --pkglibdir)
    extdir=$("$PG_CONFIG" --sharedir)/extension
    install_extension_files "$1$libdir/healthml.so" "$1$extdir"/healthml.control "$1$extdir"/healthml--*.sql
}

# Copies the installed healthml files (library, control, SQL scripts) into directory $1.
save_extension_files() {
    local extdir
    extdir=$("$PG_CONFIG" --sharedir)/extension
    mkdir -p "$1"
    cp -a "$("$PG_CONFIG" --pkglibdir)/healthml.so" "$extdir"/healthml.control "$extdir"/healthml--*.sql "$1/"
}

# Installs again the files save_extension_files put in directory $1.
restore_extension_files() {
    install_extension_files "$1/healthml.so" "$1"/healthml.control "$1"/healthml--*.sql
}

# The directory the server really uses. The server runs as the cluster owner, who must be able to
# reach it, and a Unix socket path must stay short: a checkout under root's private home directory
# (mode 700) or a very deep path is served from /var/tmp instead, linked from the usual place.
cluster_real_dir() {
    local dir=$HEALTHML_CLUSTER_DIR
    if [ -L "$dir" ]; then readlink -f "$dir"; return; fi
    mkdir -p "$dir"
    is_root && chown postgres: "$dir"
    if as_cluster_owner test -w "$dir" && [ ${#dir} -le 80 ]; then
        echo "$dir"
        return
    fi
    local alt
    alt=/var/tmp/healthml-pgcluster-$(printf '%s' "$HEALTHML_ROOT" | cksum | cut -d' ' -f1)
    mkdir -p "$alt"
    is_root && chown postgres: "$alt"
    rmdir "$dir" 2>/dev/null || die "$dir is not empty and cannot be used by the cluster owner"
    ln -s "$alt" "$dir"
    log "the cluster owner cannot use $dir; the cluster lives in $alt (linked from $dir)"
    echo "$alt"
}

hm_psql() {
    local real
    real=$(cluster_real_dir)
    psql -X -q -v ON_ERROR_STOP=1 -h "$real" -p "$HEALTHML_PGPORT" -U postgres "$@"
}

cluster_running() {
    local real
    real=$(cluster_real_dir)
    [ -s "$real/data/PG_VERSION" ] && as_cluster_owner "$PG_BIN/pg_ctl" -D "$real/data" status >/dev/null 2>&1
}

cluster_start() {
    local real
    real=$(cluster_real_dir)
    if [ ! -s "$real/data/PG_VERSION" ]; then
        log "creating a private PostgreSQL $PG_MAJOR cluster in $HEALTHML_CLUSTER_DIR (owner $(cluster_owner))"
        as_cluster_owner "$PG_BIN/initdb" -D "$real/data" -A trust -U postgres -E UTF8 \
            --locale=C.UTF-8 >"$real/initdb.log" 2>&1 || { cat "$real/initdb.log" >&2; die "initdb failed"; }
        as_cluster_owner tee -a "$real/data/postgresql.conf" >/dev/null <<CONF

# --- healthml private cluster ---
shared_preload_libraries = 'pg_cron,pgaudit,healthml'
cron.database_name = 'postgres'
listen_addresses = 'localhost'
shared_buffers = '256MB'
max_parallel_workers_per_gather = 2
log_min_messages = warning
wal_level = logical
CONF
    fi
    if cluster_running; then
        local running_port
        running_port=$(sed -n 4p "$real/data/postmaster.pid" 2>/dev/null || true)
        [ "$running_port" = "$HEALTHML_PGPORT" ] && { cluster_configure; return 0; }
        log "the cluster runs on port $running_port; restarting it on $HEALTHML_PGPORT"
        as_cluster_owner "$PG_BIN/pg_ctl" -D "$real/data" -m fast -w stop >/dev/null
    fi
    log "starting the cluster on port $HEALTHML_PGPORT (socket directory $real)"
    as_cluster_owner "${SERVER_ENV[@]}" "$PG_BIN/pg_ctl" -D "$real/data" -l "$real/server.log" -w \
        -o "-p $HEALTHML_PGPORT -k $real" start >/dev/null || {
        tail -n 20 "$real/server.log" >&2
        die "the cluster did not start (is port $HEALTHML_PGPORT taken? set HEALTHML_PGPORT)"
    }
    # the server just started has the installed library preloaded
    sha256sum "$("$PG_CONFIG" --pkglibdir)/healthml.so" 2>/dev/null | cut -d' ' -f1 >"$real/healthml-library.sha256"
    cluster_configure
}

# pg_cron keeps its jobs in the postgres database (cron.database_name), whatever database they run
# in (cron.schedule_in_database): the private cluster has several databases (demo, tests). healthml
# is preloaded for its shared-memory scoring statistics, so a newly installed healthml library needs a
# server restart (backends fork from the postmaster, which holds the library it preloaded). Clusters
# made by earlier versions of this script are brought in line here.
cluster_configure() {
    local real restart=
    real=$(cluster_real_dir)
    if [ "$(hm_psql -d postgres -tAc 'SHOW cron.database_name')" != postgres ]; then
        hm_psql -d postgres -c "ALTER SYSTEM SET cron.database_name = 'postgres'"
        restart="cron.database_name changed"
    fi
    if [ "$(hm_psql -d postgres -tAc 'SHOW shared_preload_libraries' | tr -d ' ')" != pg_cron,pgaudit,healthml ]; then
        hm_psql -d postgres -c "ALTER SYSTEM SET shared_preload_libraries = pg_cron, pgaudit, healthml"
        restart="shared_preload_libraries changed"
    fi
    # A coordinator publishes its model registry to its shards (docs/reference/sharding.md).
    if [ "$(hm_psql -d postgres -tAc 'SHOW wal_level')" != logical ]; then
        hm_psql -d postgres -c "ALTER SYSTEM SET wal_level = logical"
        restart=${restart:-"wal_level changed to logical"}
    fi
    # A reinstall rewrites the library even when it did not change: compare contents, not times.
    local library_sum
    library_sum=$(sha256sum "$("$PG_CONFIG" --pkglibdir)/healthml.so" 2>/dev/null | cut -d' ' -f1)
    if [ "$(cat "$real/healthml-library.sha256" 2>/dev/null)" != "$library_sum" ]; then
        restart=${restart:-"a new healthml library is installed"}
    fi
    if [ -n "$restart" ]; then
        log "restarting the cluster: $restart"
        as_cluster_owner "${SERVER_ENV[@]}" "$PG_BIN/pg_ctl" -D "$real/data" -l "$real/server.log" -w -m fast \
            -o "-p $HEALTHML_PGPORT -k $real" restart >/dev/null || { tail -n 20 "$real/server.log" >&2; die "the cluster did not restart"; }
    fi
    echo "$library_sum" >"$real/healthml-library.sha256"
    # Who read which patient: pgaudit's object audit logs every statement that reads a relation the
    # auditor role may read (the pack grants it the patient-level relations, the extension the model
    # payloads), and its session audit every change of roles and rights. %u@%d names the session's
    # user and database on each line. Set once pgaudit is loaded (ALTER SYSTEM refuses the settings of
    # a library the server has not loaded); reloaded, not restarted, when they change.
    local setting value reload=
    for setting in "pgaudit.role=healthml_auditor" "pgaudit.log=role" "pgaudit.log_parameter=off" \
                   "log_line_prefix=%m [%p] %q%u@%d "; do
        value=${setting#*=}
        if [ "$(hm_psql -d postgres -tAc "SELECT current_setting('${setting%%=*}', true)")" != "$value" ]; then
            hm_psql -d postgres -v value="$value" >/dev/null <<<"ALTER SYSTEM SET ${setting%%=*} = :'value'"
            reload=1
        fi
    done
    [ -n "$reload" ] && hm_psql -d postgres -c 'SELECT pg_reload_conf()' >/dev/null
    hm_psql -d postgres -c 'SET client_min_messages = warning' -c 'CREATE EXTENSION IF NOT EXISTS pg_cron'
}

cluster_stop() {
    local real
    real=$(cluster_real_dir)
    if cluster_running; then
        as_cluster_owner "$PG_BIN/pg_ctl" -D "$real/data" -m fast -w stop >/dev/null
        log "stopped the cluster in $HEALTHML_CLUSTER_DIR"
    else
        log "the cluster in $HEALTHML_CLUSTER_DIR is not running"
    fi
}

cluster_wipe() {
    cluster_stop
    local real
    real=$(cluster_real_dir)
    rm -rf "$real"
    [ -L "$HEALTHML_CLUSTER_DIR" ] && rm -f "$HEALTHML_CLUSTER_DIR"
    rm -rf "$HEALTHML_CLUSTER_DIR"
    log "wiped the cluster in $HEALTHML_CLUSTER_DIR"
}

# Creates database $1 if it is missing and gives it the installed version of the extension: created
# when absent, brought up to date by ALTER EXTENSION healthml UPDATE (the upgrade scripts in sql/ keep
# every model, deployment and history) when older. The extension is never dropped to update it: when
# an update is impossible the script stops and says what to do.
ensure_database() {
    local db=$1 real installed version script sum stamp
    real=$(cluster_real_dir)
    if [ -z "$(hm_psql -d postgres -tAc "SELECT 1 FROM pg_database WHERE datname = '$db'")" ]; then
        hm_psql -d postgres -c "CREATE DATABASE \"$db\""
    fi
    version=$(extension_version)
    installed=$(hm_psql -d "$db" -tAc "SELECT extversion FROM pg_extension WHERE extname = 'healthml'")
    # pgrx writes the same statements in a different order from one install to the next: the sorted
    # lines tell whether this database has the SQL of the installed build of its version.
    script=$("$PG_CONFIG" --sharedir)/extension/healthml--$version.sql
    sum=$(sort "$script" | sha256sum | cut -d' ' -f1)
    stamp="$real/healthml-script.$db.sha256"
    if [ -z "$installed" ]; then
        hm_psql -d "$db" -c 'SET client_min_messages = warning' -c 'CREATE EXTENSION healthml'
    elif [ "$installed" != "$version" ]; then
        log "updating healthml $installed to $version in database $db (ALTER EXTENSION healthml UPDATE; models are kept)"
        hm_psql -d "$db" -c "ALTER EXTENSION healthml UPDATE TO '$version'" \
            || die "healthml $installed in database $db cannot be updated to $version (see the error above); nothing was dropped. See docs/operations.md, Upgrading healthml"
    elif [ -e "$stamp" ] && [ "$(cat "$stamp")" != "$sum" ]; then
        die "database $db has healthml $version from another build whose SQL differs (an unreleased version under development).
Its models cannot be carried over within one version: keep the database and build the commit it was made with, or
start afresh with 'scripts/cluster wipe' (deletes every database of the private cluster)"
    fi
    echo "$sum" >"$stamp"
}

recreate_database() {
    local db=$1 real
    real=$(cluster_real_dir)
    hm_psql -d postgres -c "DROP DATABASE IF EXISTS \"$db\" WITH (FORCE)" -c "CREATE DATABASE \"$db\""
    rm -f "$real/healthml-script.$db.sha256"
    ensure_database "$db"
}

extension_version() {
    sed -n 's/^version = "\(.*\)"/\1/p' "$HEALTHML_ROOT/Cargo.toml" | head -n 1
}

# Against a server that is not the private cluster (the container's, docker/initdb): with
# HEALTHML_USE_PGENV=1 the scripts connect with the usual PG* variables and leave the server alone.
if [ "${HEALTHML_USE_PGENV:-}" = 1 ]; then
    hm_psql() { psql -X -q -v ON_ERROR_STOP=1 "$@"; }
    cluster_start() { :; }
    ensure_database() {
        hm_psql -d "$1" -c 'SET client_min_messages = warning' -c 'CREATE EXTENSION IF NOT EXISTS healthml' \
            -c 'ALTER EXTENSION healthml UPDATE'
    }
fi
