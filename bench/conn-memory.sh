#!/usr/bin/env bash
# conn-memory.sh: rwproxy's memory (RSS) per idle and per active client connection, measured
# by bench/conn_memory.py (PyMySQL) with N clients at once; see that file for the phases.
#
# Usage:
#   bench/conn-memory.sh --self-start [--clients N]
#       starts its own cluster (rwproxy cluster up) and rwproxy, stops both at exit.
#       Build first: cargo build --release --bin rwproxy
#   bench/conn-memory.sh --proxy-port 6033 --proxy-pid 1234 [--backend-ports "3306 3307"]
#       measures a running proxy.
#
# Options (or environment):
#   --clients N        (CLIENTS)      default 400: the launcher's servers allow 500
#                                     connections and, until backend connections are
#                                     multiplexed, each client holds one on the primary
#   --result-bytes B   (RESULT_BYTES) size of the mid-result SELECT, default 1048576
#   --idle-only        (IDLE_ONLY=1)  only the idle phases: with multiplexed backend
#                                     connections, N may then exceed the servers' limit
#   --results-dir D    (RESULTS_DIR)  default target/bench-results
#   RWPROXY_BIN (target/release/rwproxy), SB_USER/SB_PASSWORD (app/app).
#
# Output: a table (phase, clients, RSS, VmHWM, RSS growth, KiB per connection, backend
# connections held) and RESULTS_DIR/conn-memory-<time>.csv.
set -euo pipefail

# shellcheck source=bench/common.sh
. "$(dirname "$0")/common.sh"

CLIENTS=${CLIENTS:-400}
RESULT_BYTES=${RESULT_BYTES:-1048576}
RESULTS_DIR=${RESULTS_DIR:-$BENCH_ROOT/target/bench-results}
PROXY_PORT=${PROXY_PORT:-}
PROXY_PID=${PROXY_PID:-}
BACKEND_PORTS=${BACKEND_PORTS:-}
IDLE_ONLY=${IDLE_ONLY:-0}
SELF_START=0

usage() { sed -n '2,/^set -euo/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//'; }

while [ $# -gt 0 ]; do
    case "$1" in
        --self-start) SELF_START=1 ;;
        --clients) CLIENTS=${2:?}; shift ;;
        --result-bytes) RESULT_BYTES=${2:?}; shift ;;
        --idle-only) IDLE_ONLY=1 ;;
        --results-dir) RESULTS_DIR=${2:?}; shift ;;
        --proxy-port) PROXY_PORT=${2:?}; shift ;;
        --proxy-pid) PROXY_PID=${2:?}; shift ;;
        --backend-ports) BACKEND_PORTS=${2:?}; shift ;;
        -h|--help) usage; exit 0 ;;
        *) die "unknown argument $1 (see --help)" ;;
    esac
    shift
done
case "$CLIENTS $RESULT_BYTES" in *[!0-9\ ]*) die "CLIENTS and RESULT_BYTES must be integers" ;; esac
[ "$CLIENTS" -gt 0 ] || die "CLIENTS must be positive"
python3 -c 'import pymysql' 2>/dev/null || bash "$BENCH_ROOT/scripts/deps.sh" --bench
command -v mariadb >/dev/null || bash "$BENCH_ROOT/scripts/deps.sh" --bench
[ "$(ulimit -n)" = unlimited ] || [ "$(ulimit -n)" -ge $((CLIENTS * 2 + 100)) ] \
    || die "ulimit -n is $(ulimit -n); $CLIENTS clients need $((CLIENTS * 2 + 100)) (raise it or lower --clients)"

bench_init
if [ "$SELF_START" = 1 ]; then
    self_start
    BACKEND_PORTS="$DIRECT_PORT $REPLICA_PORTS"
fi
[ -n "$PROXY_PORT" ] || die "PROXY_PORT not set (or use --self-start)"
[ -n "$PROXY_PID" ] || die "PROXY_PID not set: RSS is read from /proc/<pid>/status"
# In a transaction every client holds one connection on the primary, on top of the proxy's
# pool (up to 64 idle per backend, user and format) and the monitor.
idle_flag=()
if [ "$IDLE_ONLY" = 1 ]; then
    idle_flag=(--idle-only)
elif [ -n "$BACKEND_PORTS" ]; then
    check_max_connections "$BACKEND_PORTS" $((CLIENTS + 100))
fi

mkdir -p "$RESULTS_DIR"
CSV="$RESULTS_DIR/conn-memory-$(date +%Y%m%d-%H%M%S).csv"
log "$CLIENTS clients through 127.0.0.1:$PROXY_PORT (rwproxy pid $PROXY_PID)"
# shellcheck disable=SC2086
run_step timeout 900 python3 "$(dirname "$0")/conn_memory.py" --port "$PROXY_PORT" \
    --pid "$PROXY_PID" --clients "$CLIENTS" --user "$SB_USER" --password "$SB_PASSWORD" \
    --result-bytes "$RESULT_BYTES" --deadline 800 --csv "$CSV" "${idle_flag[@]}" \
    ${BACKEND_PORTS:+--backend-ports $BACKEND_PORTS}
log "results: $CSV"
