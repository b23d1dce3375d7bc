#!/usr/bin/env bash
# sysbench-compare.sh: sysbench OLTP tests against the primary directly, through haproxy in
# TCP mode (the L4 floor) and through rwproxy, interleaved (direct haproxy rwproxy, direct
# haproxy rwproxy ...) so drift on a shared machine hits every target alike. Absolute
# numbers on a 2-core bench move by up to 2x between runs; compare the ratios.
#
# When the replicas' ports are known (always with --self-start), read-only tests also run
# through "haproxy-rr": the same haproxy balancing client connections round-robin over the
# replicas. rwproxy sends reads to the replicas, so on a bench where the servers share the
# proxy's cores, "haproxy" and "rwproxy" differ in where the reads run as well as in the
# proxy; haproxy-rr has rwproxy's read topology with an L4 relay's cost, and the qps/hrr and
# cpu/hrr columns compare rwproxy with it.
#
# Usage:
#   bench/sysbench-compare.sh --self-start
#       starts its own cluster (rwproxy cluster up), haproxy and rwproxy; stops all of
#       them at exit, Ctrl-C included. Build first: cargo build --release --bin rwproxy
#   bench/sysbench-compare.sh --direct-port 3306 --proxy-port 6033 --proxy-pid 1234
#       measures a running cluster and proxy (the pid is needed for the CPU figures);
#       haproxy is started in front of the primary unless --haproxy-port/--haproxy-pid.
#
# Options (or environment):
#   --tests LIST      (TESTS)    sysbench tests, default
#                                "oltp_point_select oltp_read_only oltp_read_write"
#   --threads LIST    (THREADS)  default "1 8 32 128"
#   --duration S      (DURATION) seconds per run, default 10
#   --rounds N        (ROUNDS)   default 3
#   --warmup S        (WARMUP)   seconds of warm-up per test and target, default 3
#   --results-dir D   (RESULTS_DIR) default target/bench-results
#   --no-haproxy                 leave haproxy out
#   --direct-port P --proxy-port P --proxy-pid PID --haproxy-port P --haproxy-pid PID
#   REPLICA_PORTS (to wait for replication after prepare), SB_USER/SB_PASSWORD (app/app),
#   SB_DB (sbbench), RWPROXY_BIN (target/release/rwproxy), HAPROXY_BIN (/usr/sbin/haproxy).
#
# Output: one line per run as it finishes, then per (test, threads, target) the medians
# over rounds and, on the rwproxy line, the median over rounds of the per-round ratios
# rwproxy/direct and rwproxy/haproxy; then where the CPU went per query: each proxy's user
# and system time, the local servers' CPU (their pids from @@pid_file) and the machine's idle
# time. Files: RESULTS_DIR/sysbench-<time>/runs.csv (every run), summary.csv, summary.txt,
# and the logs of failed runs.
set -euo pipefail

# shellcheck source=bench/common.sh
. "$(dirname "$0")/common.sh"

TESTS=${TESTS:-"oltp_point_select oltp_read_only oltp_read_write"}
THREADS=${THREADS:-"1 8 32 128"}
DURATION=${DURATION:-10}
ROUNDS=${ROUNDS:-3}
WARMUP=${WARMUP:-3}
RESULTS_DIR=${RESULTS_DIR:-$BENCH_ROOT/target/bench-results}
SB_DB=${SB_DB:-sbbench}
TABLES=4
TABLE_SIZE=10000
HAPROXY_BIN=${HAPROXY_BIN:-/usr/sbin/haproxy}
DIRECT_PORT=${DIRECT_PORT:-}
PROXY_PORT=${PROXY_PORT:-}
PROXY_PID=${PROXY_PID:-}
HAPROXY_PORT=${HAPROXY_PORT:-}
HAPROXY_PID=${HAPROXY_PID:-}
HAPROXY_RR_PORT=""
REPLICA_PORTS=${REPLICA_PORTS:-}
SELF_START=0
WITH_HAPROXY=1

usage() { sed -n '2,/^set -euo/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//'; }

while [ $# -gt 0 ]; do
    case "$1" in
        --self-start) SELF_START=1 ;;
        --haproxy) WITH_HAPROXY=1 ;;
        --no-haproxy) WITH_HAPROXY=0 ;;
        --tests) TESTS=${2:?}; shift ;;
        --threads) THREADS=${2:?}; shift ;;
        --duration) DURATION=${2:?}; shift ;;
        --rounds) ROUNDS=${2:?}; shift ;;
        --warmup) WARMUP=${2:?}; shift ;;
        --results-dir) RESULTS_DIR=${2:?}; shift ;;
        --direct-port) DIRECT_PORT=${2:?}; shift ;;
        --proxy-port) PROXY_PORT=${2:?}; shift ;;
        --proxy-pid) PROXY_PID=${2:?}; shift ;;
        --haproxy-port) HAPROXY_PORT=${2:?}; shift ;;
        --haproxy-pid) HAPROXY_PID=${2:?}; shift ;;
        -h|--help) usage; exit 0 ;;
        *) die "unknown argument $1 (see --help)" ;;
    esac
    shift
done

case "$DURATION $ROUNDS $WARMUP $THREADS" in
    *[!0-9\ ]*) die "DURATION, ROUNDS, WARMUP and THREADS must be (lists of) integers" ;;
esac
if [ "$DURATION" -le 0 ] || [ "$ROUNDS" -le 0 ] || [ -z "${THREADS// /}" ] || [ -z "${TESTS// /}" ]; then
    die "DURATION and ROUNDS must be positive, TESTS and THREADS not empty"
fi
for t in $TESTS; do
    case "$t" in
        oltp_point_select|oltp_read_only|oltp_read_write|oltp_write_only|oltp_update_index|\
        oltp_update_non_index|oltp_insert|oltp_delete|select_random_points|select_random_ranges) ;;
        *) die "unknown sysbench test '$t'" ;;
    esac
done
if ! command -v sysbench >/dev/null || ! command -v mariadb >/dev/null \
        || { [ "$WITH_HAPROXY" = 1 ] && [ -z "$HAPROXY_PORT" ] && [ ! -x "$HAPROXY_BIN" ]; }; then
    bash "$BENCH_ROOT/scripts/deps.sh" --bench
fi
CLK_TCK=$(getconf CLK_TCK)
words() { echo "$1" | wc -w; }
# shellcheck disable=SC2086
MAX_THREADS=$(printf '%s\n' $THREADS | sort -n | tail -n 1)

bench_init
OUT="$RESULTS_DIR/sysbench-$(date +%Y%m%d-%H%M%S)"
mkdir -p "$OUT"
KEEP_LOGS="$OUT"

[ "$SELF_START" = 1 ] && self_start
[ -n "$DIRECT_PORT" ] || die "DIRECT_PORT not set (or use --self-start)"
[ -n "$PROXY_PORT" ] || die "PROXY_PORT not set (or use --self-start)"
[ -z "$PROXY_PID" ] && log "PROXY_PID not set: no CPU or RSS figures for rwproxy"

# Every path holds up to MAX_THREADS connections on a server at once; rwproxy also keeps
# up to 64 idle pooled connections per (backend, user, format), and the monitor its own.
check_max_connections "$DIRECT_PORT $REPLICA_PORTS" $((MAX_THREADS + 150))
SERVER_PIDS=$(server_pids "$DIRECT_PORT $REPLICA_PORTS")
[ -n "$SERVER_PIDS" ] || log "the servers' pids are unknown (not local?): no servers_us/q figures"

if [ "$WITH_HAPROXY" = 1 ] && [ -z "$HAPROXY_PORT" ]; then
    HAPROXY_PORT=$(free_port)
    cat >"$WORK/haproxy.cfg" <<EOF
global
    maxconn 4096
defaults
    mode tcp
    timeout connect 5s
    timeout client 5m
    timeout server 5m
listen mysql
    bind 127.0.0.1:$HAPROXY_PORT
    server primary 127.0.0.1:$DIRECT_PORT
EOF
    if [ -n "${REPLICA_PORTS// /}" ]; then
        HAPROXY_RR_PORT=$(free_port)
        {
            printf 'listen replicas\n    bind 127.0.0.1:%s\n    balance roundrobin\n' "$HAPROXY_RR_PORT"
            n=0
            for rp in $REPLICA_PORTS; do
                n=$((n + 1))
                printf '    server replica%s 127.0.0.1:%s\n' "$n" "$rp"
            done
        } >>"$WORK/haproxy.cfg"
    fi
    "$HAPROXY_BIN" -db -f "$WORK/haproxy.cfg" >"$WORK/haproxy.log" 2>&1 &
    HAPROXY_PID=$!
    STARTED_PIDS+=("$HAPROXY_PID")
    wait_listening "$HAPROXY_PORT" "$HAPROXY_PID" "$WORK/haproxy.log"
    log "haproxy (tcp) 127.0.0.1:$HAPROXY_PORT (pid $HAPROXY_PID)"
    if [ -n "$HAPROXY_RR_PORT" ]; then
        log "haproxy-rr (tcp, round-robin over the replicas) 127.0.0.1:$HAPROXY_RR_PORT"
    fi
fi

SB_COMMON=(--db-driver=mysql --mysql-host=127.0.0.1 --mysql-user="$SB_USER"
    --mysql-password="$SB_PASSWORD" --mysql-db="$SB_DB" --tables="$TABLES"
    --table-size="$TABLE_SIZE")

log "preparing $TABLES tables x $TABLE_SIZE rows in $SB_DB via the primary"
sql "$DIRECT_PORT" "DROP DATABASE IF EXISTS \`$SB_DB\`; CREATE DATABASE \`$SB_DB\`"
run_step timeout 600 sysbench oltp_point_select "${SB_COMMON[@]}" --mysql-port="$DIRECT_PORT" \
    --threads=4 prepare >"$WORK/prepare.log" 2>&1 \
    || { cat "$WORK/prepare.log" >&2; die "prepare failed"; }
if [ -n "$REPLICA_PORTS" ]; then
    gtid=$(sql "$DIRECT_PORT" "SELECT @@gtid_binlog_pos")
    for rp in $REPLICA_PORTS; do
        r=$(sql "$rp" "SELECT MASTER_GTID_WAIT('$gtid', 60)")
        [ "$r" = 0 ] || die "replica on port $rp did not reach $gtid within 60 s"
    done
    log "replicas caught up to $gtid"
fi

TARGETS="direct"
[ "$WITH_HAPROXY" = 1 ] && TARGETS="$TARGETS haproxy"
[ -n "$HAPROXY_RR_PORT" ] && TARGETS="$TARGETS haproxy-rr"
TARGETS="$TARGETS rwproxy"
target_port() {
    case $1 in
        direct) echo "$DIRECT_PORT" ;; haproxy) echo "$HAPROXY_PORT" ;;
        haproxy-rr) echo "$HAPROXY_RR_PORT" ;; rwproxy) echo "$PROXY_PORT" ;;
    esac
}
target_pid() {
    case $1 in
        direct) echo "" ;; haproxy|haproxy-rr) echo "$HAPROXY_PID" ;; rwproxy) echo "$PROXY_PID" ;;
    esac
}
# The targets one test runs through: haproxy-rr only for tests that do not write (the
# replicas are read-only).
targets_for() {
    local t
    for t in $TARGETS; do
        case "$t:$1" in
            haproxy-rr:oltp_point_select|haproxy-rr:oltp_read_only|haproxy-rr:select_random_*) echo "$t" ;;
            haproxy-rr:*) ;;
            *) echo "$t" ;;
        esac
    done
}

# µs per query from a tick delta: per_query TICKS QUERIES
per_query() {
    awk -v d="$1" -v hz="$CLK_TCK" -v q="$2" 'BEGIN { printf "%.1f", d * 1e6 / hz / q }'
}

# One sysbench run; prints the CSV row (columns as in RUNS_HEAD)
run_one() { # round test threads target
    local round=$1 test=$2 threads=$3 target=$4 port pid f status=ok
    local u0="" s0="" u1 s1 srv0 srv1 idle0 idle1
    local queries qps tps p95 errors cpu="" rss="" hwm="" usr="" sys="" srv="" idle=""
    port=$(target_port "$target"); pid=$(target_pid "$target")
    f="$WORK/run-$test-$threads-$target-$round.log"
    [ -n "$pid" ] && read -r u0 s0 <<<"$(cpu_split "$pid")"
    srv0=$(cpu_ticks_sum "$SERVER_PIDS"); idle0=$(idle_ticks)
    if ! run_step timeout $((DURATION + 60)) sysbench "$test" "${SB_COMMON[@]}" \
            --mysql-port="$port" --threads="$threads" --time="$DURATION" \
            --report-interval=0 --percentile=95 run >"$f" 2>&1; then
        status=failed
        mv "$f" "$WORK/failed-$test-$threads-$target-$round.log"
        f="$WORK/failed-$test-$threads-$target-$round.log"
        log "sysbench $test x $threads through $target failed; last lines:"
        tail -n 5 "$f" | sed 's/^/#   /' >&2
    fi
    queries=$(awk '$1 == "queries:" { print $2; exit }' "$f")
    qps=$(awk '$1 == "queries:" { gsub(/\(/, "", $3); print $3; exit }' "$f")
    tps=$(awk '$1 == "transactions:" { gsub(/\(/, "", $3); print $3; exit }' "$f")
    p95=$(awk '$1 == "95th" { print $3; exit }' "$f")
    errors=$(awk '$1 == "ignored" && $2 == "errors:" { print $3; exit }' "$f")
    queries=${queries:-0}; qps=${qps:-0}; tps=${tps:-0}
    srv1=$(cpu_ticks_sum "$SERVER_PIDS"); idle1=$(idle_ticks)
    if [ -n "$pid" ]; then
        read -r u1 s1 <<<"$(cpu_split "$pid")"
        rss=$(mem_mib "$pid" VmRSS); hwm=$(mem_mib "$pid" VmHWM)
        if [ "$queries" -gt 0 ]; then
            cpu=$(per_query $((u1 + s1 - u0 - s0)) "$queries")
            usr=$(per_query $((u1 - u0)) "$queries"); sys=$(per_query $((s1 - s0)) "$queries")
        fi
    fi
    if [ "$queries" -gt 0 ]; then
        [ -n "$SERVER_PIDS" ] && srv=$(per_query $((srv1 - srv0)) "$queries")
        idle=$(per_query $((idle1 - idle0)) "$queries")
    fi
    echo "$round,$test,$threads,$target,$qps,$tps,$p95,$errors,$status,$cpu,$rss,$hwm,$queries,$usr,$sys,$srv,$idle"
}

if [ "$WARMUP" -gt 0 ]; then
    for test in $TESTS; do
        for target in $(targets_for "$test"); do
            log "warm-up ${WARMUP}s: $test x 8 through $target"
            run_step timeout $((WARMUP + 60)) sysbench "$test" "${SB_COMMON[@]}" \
                --mysql-port="$(target_port "$target")" --threads=8 --time="$WARMUP" run \
                >/dev/null 2>&1 || log "warm-up through $target failed"
        done
    done
fi

per_round=0
for test in $TESTS; do per_round=$((per_round + $(words "$(targets_for "$test")"))); done
runs=$((ROUNDS * $(words "$THREADS") * per_round))
log "$runs runs of ${DURATION}s: about $(( (runs * (DURATION + 2) + 59) / 60 )) min; results in $OUT"
RUNS="$OUT/runs.csv"
# cpu_us_per_query is the proxy's (user + system); usr/sys split it; servers_us_per_query
# is the local servers' CPU together; idle_us_per_query is the machine's unused CPU time.
RUNS_HEAD="round,test,threads,target,qps,tps,p95_ms,errors,status,cpu_us_per_query,rss_mib,hwm_mib"
RUNS_HEAD="$RUNS_HEAD,queries,usr_us_per_query,sys_us_per_query,servers_us_per_query,idle_us_per_query"
echo "$RUNS_HEAD" >"$RUNS"
row_fmt='%-5s %-22s %7s %-10s %10s %9s %7s %-6s %9s %8s %8s\n'
# shellcheck disable=SC2059
printf "$row_fmt" round test threads target qps p95_ms errors status cpu_us/q rss_MiB hwm_MiB
for round in $(seq 1 "$ROUNDS"); do
    for test in $TESTS; do
        for threads in $THREADS; do
            for target in $(targets_for "$test"); do
                row=$(run_one "$round" "$test" "$threads" "$target")
                echo "$row" >>"$RUNS"
                IFS=, read -r r te th ta qps _ p95 err st cpu rss hwm _ <<<"$row"
                # shellcheck disable=SC2059
                printf "$row_fmt" "$r" "$te" "$th" "$ta" "$qps" "${p95:--}" "${err:--}" "$st" \
                    "${cpu:--}" "${rss:--}" "${hwm:--}"
            done
        done
    done
done

echo
echo "summary: medians over $ROUNDS round(s) of ${DURATION}s, $TABLES tables x $TABLE_SIZE rows;"
echo "ratios are medians of the per-round rwproxy/direct, rwproxy/haproxy and rwproxy/haproxy-rr"
echo "ratios (hrr: haproxy round-robin over the replicas, read-only tests only)"
awk -F, -f "$(dirname "$0")/summarize.awk" -v summary_csv="$OUT/summary.csv" "$RUNS" \
    | tee "$OUT/summary.txt"
log "results: $OUT/runs.csv, $OUT/summary.csv"
if grep -q ',failed,' "$RUNS"; then
    log "some runs failed"
    exit 1
fi
