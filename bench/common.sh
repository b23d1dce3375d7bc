# common.sh: helpers the bench scripts share (sourced, never run): logging, free ports,
# waiting for a listener, /proc figures of a process, and --self-start, which starts a
# local cluster (`rwproxy cluster up`) and an rwproxy in front of it. Everything started
# here is recorded by pid and stopped by bench_cleanup, which bench_init installs as the
# EXIT trap (INT and TERM exit through it too).
# shellcheck shell=bash

BENCH_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
RWPROXY_BIN=${RWPROXY_BIN:-$BENCH_ROOT/target/release/rwproxy}
SB_USER=${SB_USER:-app}
SB_PASSWORD=${SB_PASSWORD:-app}
WORK=""
CLUSTER_STARTED=0
STARTED_PIDS=()
CHILD_PID=""   # the bench step running now (sysbench, python), killed first on exit
KEEP_LOGS=""   # a directory where bench_cleanup copies $WORK/*.log if any failed-*.log exists

die() { echo "error: $*" >&2; exit 1; }
log() { echo "# $*" >&2; }

# Stops pid $1 (a child of this shell): SIGTERM, then SIGKILL after 15 s.
stop_pid() {
    local i
    kill "$1" 2>/dev/null || return 0
    for i in $(seq 1 150); do
        kill -0 "$1" 2>/dev/null || break
        sleep 0.1
    done
    kill -9 "$1" 2>/dev/null
    wait "$1" 2>/dev/null
    return 0
}

bench_cleanup() {
    set +e
    local i
    [ -n "$CHILD_PID" ] && stop_pid "$CHILD_PID"
    for ((i = ${#STARTED_PIDS[@]} - 1; i >= 0; i--)); do
        stop_pid "${STARTED_PIDS[$i]}"
    done
    if [ "$CLUSTER_STARTED" = 1 ]; then
        timeout 120 "$RWPROXY_BIN" --log-level warn cluster --dir "$WORK/cluster" down >/dev/null 2>&1 \
            || log "cluster down failed: servers may still run from $WORK/cluster"
    fi
    if [ -n "$WORK" ] && [ -d "$WORK" ]; then
        if [ -n "$KEEP_LOGS" ] && ls "$WORK"/failed-*.log >/dev/null 2>&1; then
            mkdir -p "$KEEP_LOGS" && cp "$WORK"/*.log "$KEEP_LOGS"/ 2>/dev/null
            log "logs of the failed steps kept in $KEEP_LOGS"
        fi
        rm -rf "$WORK"
    fi
}

# Creates $WORK and installs the cleanup traps.
bench_init() {
    trap bench_cleanup EXIT
    trap 'exit 130' INT
    trap 'exit 143' TERM
    WORK=$(mktemp -d /tmp/rwbench.XXXXXX)
}

# Runs "$@" in the background and waits for it, so a signal interrupts the wait at once
# and bench_cleanup stops the step. Returns the step's exit status.
run_step() {
    local rc=0
    "$@" &
    CHILD_PID=$!
    wait "$CHILD_PID" || rc=$?
    CHILD_PID=""
    return "$rc"
}

# A TCP port on 127.0.0.1 that nothing listens on (bounded number of tries), below the
# kernel's ephemeral range: a port an outgoing connection holds would fail the bind later,
# and the 5k-connection tests of a parallel run churn through that range.
free_port() {
    local i p low span
    low=$(awk '{ print $1 }' /proc/sys/net/ipv4/ip_local_port_range 2>/dev/null || echo 32768)
    span=$(( low - 10000 ))
    [ "$span" -ge 1000 ] || { low=60000; span=40000; }
    for i in $(seq 1 100); do
        p=$(( low - span + (RANDOM * 32768 + RANDOM) % span ))
        if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then echo "$p"; return 0; fi
    done
    die "no free port found"
}

# Waits (at most 20 s) until something listens on port $1; $2 is a pid that must stay
# alive, $3 its log (its end is shown if it dies).
wait_listening() {
    local i
    for i in $(seq 1 200); do
        if (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; then return 0; fi
        if [ -n "${2:-}" ] && ! kill -0 "$2" 2>/dev/null; then
            [ -n "${3:-}" ] && tail -n 20 "$3" >&2
            die "process $2 exited before listening on $1"
        fi
        sleep 0.1
    done
    die "nothing listens on 127.0.0.1:$1 after 20 s"
}

# Runs one statement on 127.0.0.1:$1 as the bench user (bounded to 90 s).
sql() {
    timeout 90 mariadb --no-defaults --protocol=tcp -h127.0.0.1 -P"$1" -u"$SB_USER" \
        -p"$SB_PASSWORD" -N -B -e "$2"
}

# "utime stime" from the text of a /proc/<pid>/stat (the fields after "(comm)").
stat_ticks() {
    local rest=${1##*) }
    # shellcheck disable=SC2086
    set -- $rest
    echo "${12} ${13}"
}

# CPU ticks of pid $1 (all threads): "utime stime".
cpu_split() {
    local stat
    stat=$(cat "/proc/$1/stat") || die "process $1 is gone"
    stat_ticks "$stat"
}

# CPU ticks (utime + stime, all threads) of pid $1.
cpu_ticks() {
    local u s
    read -r u s <<<"$(cpu_split "$1")"
    echo $((u + s))
}

# CPU ticks (utime + stime) of the pids "$1" together; a pid that is gone counts 0.
cpu_ticks_sum() {
    local p t=0 stat u s
    for p in $1; do
        stat=$(cat "/proc/$p/stat" 2>/dev/null) || continue
        read -r u s <<<"$(stat_ticks "$stat")"
        t=$((t + u + s))
    done
    echo "$t"
}

# The machine's idle ticks (idle + iowait, all CPUs) from /proc/stat.
idle_ticks() {
    awk '$1 == "cpu" { print $5 + $6; exit }' /proc/stat
}

# The pids of the MariaDB servers on ports "$1" that run on this machine (from each
# server's @@pid_file); servers elsewhere are left out.
server_pids() {
    local port f pid
    for port in $1; do
        f=$(sql "$port" "SELECT @@pid_file" 2>/dev/null) || continue
        pid=$(cat "$f" 2>/dev/null) || continue
        [ -n "$pid" ] && [ -d "/proc/$pid" ] && printf '%s ' "$pid"
    done
}

# Field $2 (VmRSS, VmHWM) of /proc/<pid $1>/status in MiB, one decimal.
mem_mib() {
    awk -v f="$2:" '$1 == f { printf "%.1f", $2 / 1024 }' "/proc/$1/status"
}

# Starts a cluster (primary + 2 replicas) and rwproxy in front of it, from $RWPROXY_BIN.
# Sets DIRECT_PORT (primary), REPLICA_PORTS, PROXY_PORT and PROXY_PID.
self_start() {
    [ -x "$RWPROXY_BIN" ] || die "$RWPROXY_BIN missing: run cargo build --release --bin rwproxy"
    PROXY_PORT=$(free_port)
    log "starting a cluster in $WORK/cluster"
    CLUSTER_STARTED=1
    timeout 300 "$RWPROXY_BIN" --log-level warn cluster --dir "$WORK/cluster" up \
        --write-config "$WORK/rw.toml" --listen "127.0.0.1:$PROXY_PORT" >"$WORK/cluster.log" 2>&1 \
        || { cat "$WORK/cluster.log" >&2; die "cluster up failed"; }
    # The admin interfaces on free ports, so this proxy never collides on 6032/6080.
    printf '\n[admin]\nlisten = "127.0.0.1:%s"\nhttp = "127.0.0.1:%s"\n' \
        "$(free_port)" "$(free_port)" >>"$WORK/rw.toml"
    local ports
    ports=$(sed -n 's/^address = "127\.0\.0\.1:\([0-9]*\)".*/\1/p' "$WORK/rw.toml")
    DIRECT_PORT=$(echo "$ports" | head -n 1)
    REPLICA_PORTS=$(echo "$ports" | tail -n +2 | tr '\n' ' ')
    "$RWPROXY_BIN" --log-level warn run --config "$WORK/rw.toml" >"$WORK/proxy.log" 2>&1 &
    PROXY_PID=$!
    STARTED_PIDS+=("$PROXY_PID")
    wait_listening "$PROXY_PORT" "$PROXY_PID" "$WORK/proxy.log"
    log "primary 127.0.0.1:$DIRECT_PORT, replicas $REPLICA_PORTS, rwproxy 127.0.0.1:$PROXY_PORT (pid $PROXY_PID)"
}

# Dies unless every server on ports "$1" allows at least $2 connections.
check_max_connections() {
    local port max
    for port in $1; do
        max=$(sql "$port" "SELECT @@max_connections") || die "cannot query 127.0.0.1:$port"
        [ "$max" -ge "$2" ] || die "server 127.0.0.1:$port has max_connections = $max, this run needs $2 \
(lower the thread or client count, or raise max-connections in docker/mariadb/rwproxy.cnf)"
    done
}
