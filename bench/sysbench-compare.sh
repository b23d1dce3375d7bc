#!/usr/bin/env bash
# sysbench-compare.sh: sysbench oltp_point_select straight to the primary vs through
# rwproxy (and optionally through haproxy in TCP mode), interleaved A B A B so drift on a
# shared machine hits every arm alike. Absolute numbers on a 2-core bench move by up to
# 2x between runs; compare the ratios and the proxy's CPU cost per query.
#
# Usage:
#   bench/sysbench-compare.sh --self-start [--haproxy]
#       starts its own cluster (target/release/rwproxy cluster up) and proxy, stops both
#       at exit. Build first: cargo build --release
#   DIRECT_PORT=3306 PROXY_PORT=6033 PROXY_PID=1234 bench/sysbench-compare.sh [--haproxy]
#   bench/sysbench-compare.sh --direct-port 3306 --proxy-port 6033 --proxy-pid 1234
#       measures a running cluster + proxy (PROXY_PID is needed for the CPU figures).
#
# Environment: DURATION (s per run, default 10), ROUNDS (default 3), THREADS ("8 32"),
# WARMUP (s, default 3), SB_USER/SB_PASSWORD (app/app), SB_DB (sbbench),
# REPLICA_PORTS (space-separated, to wait for replication after prepare),
# RWPROXY_BIN (default target/release/rwproxy), HAPROXY_BIN (/usr/sbin/haproxy).
#
# Per run it prints QPS, p95 latency (ms), errors, and for proxy arms the proxy's CPU
# microseconds per query ((utime+stime) delta from /proc/<pid>/stat x 1e6 / CLK_TCK /
# queries) and its RSS; then per thread count the medians and rwproxy/direct ratio.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
DURATION=${DURATION:-10}
ROUNDS=${ROUNDS:-3}
THREADS=${THREADS:-"8 32"}
WARMUP=${WARMUP:-3}
SB_USER=${SB_USER:-app}
SB_PASSWORD=${SB_PASSWORD:-app}
SB_DB=${SB_DB:-sbbench}
TABLES=4
TABLE_SIZE=10000
RWPROXY_BIN=${RWPROXY_BIN:-$ROOT/target/release/rwproxy}
HAPROXY_BIN=${HAPROXY_BIN:-/usr/sbin/haproxy}
DIRECT_PORT=${DIRECT_PORT:-}
PROXY_PORT=${PROXY_PORT:-}
PROXY_PID=${PROXY_PID:-}
REPLICA_PORTS=${REPLICA_PORTS:-}
SELF_START=0
WITH_HAPROXY=0
WORK=""
CLUSTER_STARTED=0
STARTED_PROXY_PID=""
HAPROXY_PID=""
HAPROXY_PORT=""

die() { echo "error: $*" >&2; exit 1; }
log() { echo "# $*" >&2; }

usage() { sed -n '2,/^set -euo/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//'; }

while [ $# -gt 0 ]; do
    case "$1" in
        --self-start) SELF_START=1 ;;
        --haproxy) WITH_HAPROXY=1 ;;
        --direct-port) DIRECT_PORT=${2:?}; shift ;;
        --proxy-port) PROXY_PORT=${2:?}; shift ;;
        --proxy-pid) PROXY_PID=${2:?}; shift ;;
        -h|--help) usage; exit 0 ;;
        *) die "unknown argument $1 (see --help)" ;;
    esac
    shift
done

command -v sysbench >/dev/null || die "sysbench not found: apt-get install -y sysbench"
command -v mariadb >/dev/null || die "mariadb client not found: apt-get install -y mariadb-client"
case "$DURATION$ROUNDS$WARMUP" in *[!0-9]*) die "DURATION, ROUNDS and WARMUP must be integers" ;; esac
CLK_TCK=$(getconf CLK_TCK)

cleanup() {
    set +e
    if [ -n "$HAPROXY_PID" ]; then kill "$HAPROXY_PID" 2>/dev/null; wait "$HAPROXY_PID" 2>/dev/null; fi
    if [ -n "$STARTED_PROXY_PID" ]; then
        kill "$STARTED_PROXY_PID" 2>/dev/null; wait "$STARTED_PROXY_PID" 2>/dev/null
    fi
    if [ "$CLUSTER_STARTED" = 1 ]; then
        "$RWPROXY_BIN" --log-level warn cluster --dir "$WORK/cluster" down >/dev/null
    fi
    if [ -n "$WORK" ]; then
        if ls "$WORK"/failed-*.log >/dev/null 2>&1; then
            keep=$(mktemp -d /tmp/rwbench-failed.XXXXXX)
            cp "$WORK"/failed-*.log "$WORK"/*.log "$keep"/ 2>/dev/null
            echo "# logs of the failed runs kept in $keep" >&2
        fi
        rm -rf "$WORK"
    fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

WORK=$(mktemp -d /tmp/rwbench.XXXXXX)

# A TCP port on 127.0.0.1 that nothing listens on (bounded number of tries).
free_port() {
    local i p
    for i in $(seq 1 100); do
        p=$(( 20000 + (RANDOM * 32768 + RANDOM) % 40000 ))
        if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then echo "$p"; return 0; fi
    done
    die "no free port found"
}

# Waits (at most 20 s) until something listens on port $1.
wait_listening() {
    local i
    for i in $(seq 1 200); do
        if (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; then return 0; fi
        sleep 0.1
    done
    die "nothing listens on 127.0.0.1:$1 after 20 s"
}

sql() { # port, statement
    mariadb --no-defaults --protocol=tcp -h127.0.0.1 -P"$1" -u"$SB_USER" -p"$SB_PASSWORD" -N -B -e "$2"
}

if [ "$SELF_START" = 1 ]; then
    [ -x "$RWPROXY_BIN" ] || die "$RWPROXY_BIN missing: run cargo build --release"
    PROXY_PORT=$(free_port)
    log "starting a cluster in $WORK/cluster"
    CLUSTER_STARTED=1
    "$RWPROXY_BIN" --log-level warn cluster --dir "$WORK/cluster" up \
        --write-config "$WORK/rw.toml" --listen "127.0.0.1:$PROXY_PORT" >"$WORK/cluster.log" 2>&1 \
        || { cat "$WORK/cluster.log" >&2; die "cluster up failed"; }
    # The admin interfaces on free ports, so this proxy never collides on 6032/6080.
    printf '\n[admin]\nlisten = "127.0.0.1:%s"\nhttp = "127.0.0.1:%s"\n' \
        "$(free_port)" "$(free_port)" >>"$WORK/rw.toml"
    ports=$(sed -n 's/^address = "127\.0\.0\.1:\([0-9]*\)".*/\1/p' "$WORK/rw.toml")
    DIRECT_PORT=$(echo "$ports" | head -n 1)
    REPLICA_PORTS=$(echo "$ports" | tail -n +2 | tr '\n' ' ')
    "$RWPROXY_BIN" --log-level warn run --config "$WORK/rw.toml" >"$WORK/proxy.log" 2>&1 &
    STARTED_PROXY_PID=$!
    PROXY_PID=$STARTED_PROXY_PID
    wait_listening "$PROXY_PORT"
    log "primary 127.0.0.1:$DIRECT_PORT, replicas $REPLICA_PORTS, rwproxy 127.0.0.1:$PROXY_PORT (pid $PROXY_PID)"
fi

[ -n "$DIRECT_PORT" ] || die "DIRECT_PORT not set (or use --self-start)"
[ -n "$PROXY_PORT" ] || die "PROXY_PORT not set (or use --self-start)"
[ -z "$PROXY_PID" ] && log "PROXY_PID not set: no CPU figures for rwproxy"

if [ "$WITH_HAPROXY" = 1 ]; then
    [ -x "$HAPROXY_BIN" ] || die "$HAPROXY_BIN missing: apt-get install -y haproxy"
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
    "$HAPROXY_BIN" -db -f "$WORK/haproxy.cfg" >"$WORK/haproxy.log" 2>&1 &
    HAPROXY_PID=$!
    wait_listening "$HAPROXY_PORT"
    log "haproxy (tcp) 127.0.0.1:$HAPROXY_PORT (pid $HAPROXY_PID)"
fi

SB_COMMON=(--db-driver=mysql --mysql-host=127.0.0.1 --mysql-user="$SB_USER"
    --mysql-password="$SB_PASSWORD" --mysql-db="$SB_DB" --tables="$TABLES"
    --table-size="$TABLE_SIZE")

log "preparing $TABLES tables x $TABLE_SIZE rows in $SB_DB via the primary"
sql "$DIRECT_PORT" "DROP DATABASE IF EXISTS \`$SB_DB\`; CREATE DATABASE \`$SB_DB\`"
timeout 600 sysbench oltp_point_select "${SB_COMMON[@]}" --mysql-port="$DIRECT_PORT" \
    --threads=4 prepare >"$WORK/prepare.log" 2>&1 || { cat "$WORK/prepare.log" >&2; die "prepare failed"; }
if [ -n "$REPLICA_PORTS" ]; then
    gtid=$(sql "$DIRECT_PORT" "SELECT @@gtid_binlog_pos")
    for rp in $REPLICA_PORTS; do
        r=$(sql "$rp" "SELECT MASTER_GTID_WAIT('$gtid', 60)")
        [ "$r" = 0 ] || die "replica on port $rp did not reach $gtid within 60 s"
    done
    log "replicas caught up to $gtid"
fi

# CPU ticks (utime + stime) of pid $1, from /proc/<pid>/stat after the "(comm)" field.
cpu_ticks() {
    local stat rest
    stat=$(cat "/proc/$1/stat") || die "process $1 is gone"
    rest=${stat##*) }
    # shellcheck disable=SC2086
    set -- $rest
    echo $(( ${12} + ${13} ))
}

rss_mib() {
    awk '/^VmRSS:/ { printf "%.1f", $2 / 1024 }' "/proc/$1/status"
}

# Prints one result line: threads arm round qps p95 errors cpu_us_per_query rss_mib.
run_one() { # threads, arm, round, port, pid ("" = no CPU figures)
    local threads=$1 arm=$2 round=$3 port=$4 pid=$5 out t0 t1 queries qps p95 errors cpu rss
    t0=""; [ -n "$pid" ] && t0=$(cpu_ticks "$pid")
    if ! out=$(timeout $((DURATION + 60)) sysbench oltp_point_select "${SB_COMMON[@]}" \
            --mysql-port="$port" --threads="$threads" --time="$DURATION" \
            --report-interval=0 --percentile=95 run 2>&1); then
        echo "$out" >"$WORK/failed-$arm-$threads-$round.log"
        log "sysbench through $arm failed; last lines:"
        echo "$out" | tail -n 5 | sed 's/^/#   /' >&2
    fi
    queries=$(echo "$out" | awk '$1 == "queries:" { print $2; exit }')
    qps=$(echo "$out" | awk '$1 == "queries:" { gsub(/\(/, "", $3); print $3; exit }')
    p95=$(echo "$out" | awk '$1 == "95th" { print $3; exit }')
    errors=$(echo "$out" | awk '$1 == "ignored" && $2 == "errors:" { print $3; exit }')
    queries=${queries:-0}; qps=${qps:-0}; p95=${p95:-NA}; errors=${errors:-FAILED}
    cpu="-"; rss="-"
    if [ -n "$pid" ]; then
        t1=$(cpu_ticks "$pid")
        rss=$(rss_mib "$pid")
        if [ "$queries" -gt 0 ]; then
            cpu=$(awk -v d=$((t1 - t0)) -v hz="$CLK_TCK" -v q="$queries" \
                'BEGIN { printf "%.1f", d * 1e6 / hz / q }')
        fi
    fi
    echo "$threads $arm $round $qps $p95 $errors $cpu $rss"
}

ARMS="direct rwproxy"
[ "$WITH_HAPROXY" = 1 ] && ARMS="$ARMS haproxy"
arm_port() { case $1 in direct) echo "$DIRECT_PORT" ;; rwproxy) echo "$PROXY_PORT" ;; haproxy) echo "$HAPROXY_PORT" ;; esac; }
arm_pid() { case $1 in direct) echo "" ;; rwproxy) echo "$PROXY_PID" ;; haproxy) echo "$HAPROXY_PID" ;; esac; }

if [ "$WARMUP" -gt 0 ]; then
    for arm in $ARMS; do
        log "warm-up ${WARMUP}s through $arm"
        timeout $((WARMUP + 60)) sysbench oltp_point_select "${SB_COMMON[@]}" \
            --mysql-port="$(arm_port "$arm")" --threads=8 --time="$WARMUP" run >/dev/null 2>&1 \
            || log "warm-up through $arm failed"
    done
fi

RESULTS="$WORK/results"
: >"$RESULTS"
printf '%-7s %-8s %-5s %10s %9s %7s %11s %8s\n' \
    threads arm round qps p95_ms errors cpu_us/q rss_MiB
for threads in $THREADS; do
    for round in $(seq 1 "$ROUNDS"); do
        for arm in $ARMS; do
            line=$(run_one "$threads" "$arm" "$round" "$(arm_port "$arm")" "$(arm_pid "$arm")")
            echo "$line" >>"$RESULTS"
            # shellcheck disable=SC2086
            printf '%-7s %-8s %-5s %10s %9s %7s %11s %8s\n' $line
        done
    done
done

# Median of column $3 over the result lines for threads $1 and arm $2 ("-" if none).
median() {
    awk -v t="$1" -v a="$2" -v c="$3" '$1 == t && $2 == a && $c != "-" && $c != "NA" { print $c }' \
        "$RESULTS" | sort -g | awk '{ v[NR] = $1 } END {
            if (NR == 0) { print "-"; exit }
            if (NR % 2) { print v[(NR + 1) / 2] } else { printf "%.2f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }
        }'
}

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a == "-" || b == "-" || b == 0) print "-"; else printf "%.2f", a / b }'; }

echo
echo "summary (medians over $ROUNDS rounds of ${DURATION}s, oltp_point_select, $TABLES x $TABLE_SIZE rows)"
printf '%-7s %-8s %10s %9s %13s %11s\n' threads arm qps p95_ms ratio_direct cpu_us/q
for threads in $THREADS; do
    direct_qps=$(median "$threads" direct 4)
    for arm in $ARMS; do
        qps=$(median "$threads" "$arm" 4)
        printf '%-7s %-8s %10s %9s %13s %11s\n' "$threads" "$arm" "$qps" \
            "$(median "$threads" "$arm" 5)" "$(ratio "$qps" "$direct_qps")" "$(median "$threads" "$arm" 7)"
    done
done
if grep -q ' FAILED ' "$RESULTS"; then
    log "some runs failed"
    exit 1
fi
