# shellcheck shell=bash
# A minimal TAP producer for shell tests (run by prove through tests/bin/tap-exec).
_tap_n=0
plan() { echo "1..$1"; }
ok() { # condition-exit-status, description
    _tap_n=$((_tap_n + 1))
    if [ "$1" -eq 0 ]; then echo "ok $_tap_n - $2"; else echo "not ok $_tap_n - $2"; fi
}
is() { # got, expected, description
    _tap_n=$((_tap_n + 1))
    if [ "$1" = "$2" ]; then
        echo "ok $_tap_n - $3"
    else
        echo "not ok $_tap_n - $3"
        printf '#          got: %s\n#     expected: %s\n' "$1" "$2"
    fi
}
like() { # text, extended-regex, description
    _tap_n=$((_tap_n + 1))
    if printf '%s' "$1" | grep -qE -- "$2"; then
        echo "ok $_tap_n - $3"
    else
        echo "not ok $_tap_n - $3"
        printf '%s\n' "$1" | sed 's/^/#   /'
        printf '#   does not match: %s\n' "$2"
    fi
}
