# shellcheck shell=bash
# A psql session that stays connected across commands, for tests of what a long-lived session sees
# (caches that must follow other sessions' commits). Needs $tmp (a scratch directory).
#   session_open NAME [psql connection args...]   starts it
#   session NAME "SQL"                             runs SQL in it; prints its output (rows, errors)
#   session_close NAME
session_open() {
    local name=$1
    shift
    : "${tmp:?session.sh needs \$tmp, a scratch directory}"
    mkfifo "$tmp/$name.in"
    psql -X -q -t -A -v ON_ERROR_STOP=0 "$@" <"$tmp/$name.in" >"$tmp/$name.out" 2>&1 &
    # the write end stays open in this shell, so psql reads on until session_close
    eval "exec {_session_fd_$name}>\"\$tmp/\$name.in\""
}
session() {
    local name=$1 sql=$2 fd marker="-- done $RANDOM$RANDOM" before
    fd=_session_fd_$name
    before=$(wc -l <"$tmp/$name.out")
    printf '%s\n\\echo %s\n' "$sql" "$marker" >&"${!fd}"
    for _ in $(seq 1 300); do
        grep -qF -- "$marker" "$tmp/$name.out" && break
        sleep 0.1
    done
    tail -n +"$((before + 1))" "$tmp/$name.out" | grep -vF -- "$marker"
}
session_close() {
    local fd=_session_fd_$1
    eval "exec ${!fd}>&-"
}
