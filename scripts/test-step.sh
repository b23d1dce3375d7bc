#!/usr/bin/env bash
# test-step.sh SECONDS COMMAND...: runs one step of `make test` with a time limit.
#
# A hung test would otherwise hang `make test` and CI with it. The step's temporary files
# (its clusters, in-process proxies' configs) go to a directory of its own (TMPDIR), so
# when the step ends, however it ends, the MariaDB servers it left behind can be found by
# their pid files there and stopped. The servers run in process groups of their own, so
# stopping the step does not stop them; the tests' own clean-up does, unless the step was
# killed.
set -uo pipefail
limit=$1
shift
dir=$(mktemp -d "${TMPDIR:-/tmp}/rwproxy-test.XXXXXX")

stop_left_servers() {
    local f pid
    while IFS= read -r f; do
        pid=$(cat "$f" 2>/dev/null) || continue
        # Only a live mariadbd whose command line names this directory: a stale pid file
        # may name a pid that has since been reused.
        if [[ "$pid" =~ ^[0-9]+$ ]] && tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null |
            grep -q "mariadbd.*$dir"; then
            echo "test-step: stopping server $pid left in $f" >&2
            kill -KILL "$pid" 2>/dev/null
        fi
    done < <(find "$dir" -name '*.pid' 2>/dev/null)
    rm -rf "$dir"
}
trap stop_left_servers EXIT

# `timeout` puts the step in a process group of its own (so that it can stop the test
# binaries cargo starts), which the terminal's Ctrl-C no longer reaches: pass INT and TERM
# on to it, and it passes them on to the step.
TMPDIR=$dir timeout --kill-after=20 "$limit" "$@" &
step=$!
trap 'kill -INT "$step" 2>/dev/null' INT
trap 'kill -TERM "$step" 2>/dev/null' TERM
wait "$step"
rc=$?
# A trapped signal ends `wait` early: wait again for the step itself to end.
while kill -0 "$step" 2>/dev/null; do
    wait "$step"
    rc=$?
done
if [ "$rc" = 124 ] || [ "$rc" = 137 ]; then
    echo "test-step: '$*' ran longer than ${limit} s and was stopped" >&2
fi
exit "$rc"
