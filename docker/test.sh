#!/usr/bin/env bash
# The compose cluster, for real (called by .ci/run after `make test`; run it as root):
#   a private dockerd in a temp dir, debian:bookworm imported from a debootstrap rootfs (cached
#   in ~/.cache/rwproxy), `docker-compose config -q`, build (rwproxy from the binary cargo already
#   built), up, then through the ports published on 127.0.0.1: writes reach the primary and
#   reads the replicas (the servers' own Com_insert / Com_select counters) and the storefront
#   bench runs with zero errors and zero stale reads; then everything is torn down, even on
#   failure: containers, volumes, networks, the daemon, docker0 and its iptables chains.
#
# Environment:
#   RWPROXY_PREBUILT  target/debug/rwproxy (default; cargo brings it up to date first),
#                     target/release/rwproxy, or `source` (compiled inside the image as users'
#                     `up --build` does; several minutes)
#   RWPROXY_BENCH     another rwproxy binary to run the bench client with
#   RWPROXY_CACHE     where the base rootfs tarball is kept (default ~/.cache/rwproxy)
#   RWPROXY_DOCKER_TMPFS=0  keep the daemon's images on disk instead of a tmpfs
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PATH:/usr/sbin:/sbin:$HOME/.cargo/bin"

PROJECT=rwproxy-ci
COMPOSE_FILE=docker/compose.yaml
CACHE=${RWPROXY_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/rwproxy}
BASE_TAR=$CACHE/debian-bookworm-minbase.tar
DOCKER_CHAINS=(DOCKER DOCKER-USER DOCKER-ISOLATION-STAGE-1 DOCKER-ISOLATION-STAGE-2)
# Docker's own CLI matches the daemon the distribution ships.
DOCKER=/usr/bin/docker
[ -x "$DOCKER" ] || DOCKER=$(command -v docker || echo docker)

say() { echo "[docker/test.sh] $*"; }
die() { say "FAIL: $*" >&2; exit 1; }

# --- phase timings -------------------------------------------------------------------------
TIMINGS=()
PHASE=""
PHASE_START=0
now() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }'; }
START=$(now)
phase() {
  phase_end
  PHASE=$1
  PHASE_START=$(now)
  say "== $PHASE"
}
phase_end() {
  [ -n "$PHASE" ] || return 0
  TIMINGS+=("$(printf '%-14s %6s s' "$PHASE" "$(since "$PHASE_START")")")
  PHASE=""
}
print_timings() {
  phase_end
  say "phase timings:"
  for t in "${TIMINGS[@]}"; do echo "    $t"; done
  printf '    %-14s %6s s\n' total "$(since "$START")"
}

# --- preconditions ---------------------------------------------------------------------------
[ "$(id -u)" -eq 0 ] || die "run as root: it starts its own dockerd"
for p in dockerd docker-compose debootstrap iptables ip jq mariadb; do
  command -v "$p" >/dev/null || die "$p is missing (apt-get install -y docker.io docker-compose debootstrap iptables iproute2 jq mariadb-client)"
done
# Everything this script removes at the end must be its own.
! ip link show docker0 >/dev/null 2>&1 || die "a docker0 bridge exists already (another Docker daemon?); this script runs its own and would clash"
for chain in "${DOCKER_CHAINS[@]}"; do
  ! iptables -n -L "$chain" >/dev/null 2>&1 || die "iptables chain $chain exists already (another Docker daemon?)"
done
for port in 6033 6032 6080; do
  ! (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null || die "127.0.0.1:$port is taken; compose publishes the proxy there"
done

D=$(mktemp -d /tmp/rwproxy-docker.XXXXXX)
export DOCKER_HOST=unix://$D/docker.sock
# dockerd turns on forwarding and sets the FORWARD policy to DROP: both are put back.
IP_FORWARD=$(cat /proc/sys/net/ipv4/ip_forward)
FORWARD_POLICY=$(iptables -S FORWARD | awk '$1 == "-P" { print $3 }')
bridges() { ip -o link show type bridge | awk -F': ' '{ print $2 }' | sed 's/@.*//'; }
BRIDGES_BEFORE=" $(bridges | tr '\n' ' ') "
DAEMON_STARTED=0
DOWN_DONE=0
compose() { docker-compose -p "$PROJECT" -f "$COMPOSE_FILE" "$@"; }

teardown() {
  local rc=$?
  set +e
  trap - EXIT INT TERM
  if [ "$rc" -ne 0 ] && [ "$DAEMON_STARTED" = 1 ]; then
    say "failed (exit $rc): container logs follow"
    compose logs --no-color --tail=60 2>&1 | tail -n 300
  fi
  if [ "$DAEMON_STARTED" = 1 ] && [ "$DOWN_DONE" = 0 ]; then
    phase down
    compose --profile observability down -v -t 1 --remove-orphans >/dev/null 2>&1
  fi
  phase stop-daemon
  if [ "$DAEMON_STARTED" = 1 ]; then
    local pid
    pid=$(cat "$D/dockerd.pid" 2>/dev/null)
    if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
      kill -TERM "$pid"
      for _ in $(seq 1 200); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
      kill -0 "$pid" 2>/dev/null && kill -KILL "$pid"
    fi
    # Anything of dockerd's still alive (its own containerd, shims) names our unique temp dir
    # on its command line: those pids, and only those, are ours.
    for p in $(pgrep -f "$D/" 2>/dev/null); do kill -KILL "$p" 2>/dev/null; done
  fi
  umount_all "$D"
  remove_docker_iptables
  for br in $(bridges); do
    case "$BRIDGES_BEFORE" in *" $br "*) ;; *) ip link del "$br" 2>/dev/null ;; esac
  done
  echo "$IP_FORWARD" >/proc/sys/net/ipv4/ip_forward 2>/dev/null
  iptables -P FORWARD "${FORWARD_POLICY:-ACCEPT}" 2>/dev/null
  rm -rf "$D"
  print_timings
  if [ "$rc" -eq 0 ]; then say "PASS"; else say "FAILED"; fi
  exit "$rc"
}

# Unmounts whatever the daemon left mounted under $1 (overlay layers, netns), deepest first.
umount_all() {
  awk -v d="$1/" 'index($2, d) == 1 { print $2 }' /proc/mounts | sort -r |
    while read -r m; do umount -l "$m" 2>/dev/null; done
}

# Removes the rules that jump to Docker's chains or name a bridge the daemon made (docker0 and
# compose's br-*), then the chains themselves (none existed before this script started).
remove_docker_iptables() {
  local table rule chain ours=docker0 br
  for br in $(bridges); do
    case "$BRIDGES_BEFORE" in *" $br "*) ;; *) ours="$ours|$br" ;; esac
  done
  for table in filter nat; do
    iptables -t "$table" -S 2>/dev/null | grep -E -- "^-A .*(-j DOCKER|$ours)" |
      grep -v -E '^-A DOCKER' | sed 's/^-A/-D/' |
      while read -r rule; do eval "iptables -t $table $rule" 2>/dev/null; done
    for chain in "${DOCKER_CHAINS[@]}"; do
      iptables -t "$table" -F "$chain" 2>/dev/null
    done
    for chain in "${DOCKER_CHAINS[@]}"; do
      iptables -t "$table" -X "$chain" 2>/dev/null
    done
  done
}
trap teardown EXIT
trap 'exit 130' INT TERM

# --- the binary the image is built from ------------------------------------------------------
phase binary
# The binary the image gets (and that runs the bench client): the one cargo built for
# `make test`, brought up to date here. RWPROXY_PREBUILT=source compiles it inside the image
# instead, as `docker-compose up --build` does for users (several minutes: not for CI).
PREBUILT=${RWPROXY_PREBUILT:-target/debug/rwproxy}
case "$PREBUILT" in
  target/debug/rwproxy | source) cargo build --bin rwproxy -q; BIN=$PWD/target/debug/rwproxy ;;
  target/release/rwproxy) BIN=$PWD/target/release/rwproxy ;;
  *) die "RWPROXY_PREBUILT must be target/debug/rwproxy, target/release/rwproxy (.dockerignore lets only those in) or source" ;;
esac
[ -x "$BIN" ] || die "$BIN is missing: cargo build first"
export RWPROXY_PREBUILT=$PREBUILT
[ "$PREBUILT" = source ] && RWPROXY_PREBUILT=""
BENCH_BIN=${RWPROXY_BENCH:-$BIN}
say "image gets: ${RWPROXY_PREBUILT:-a build from source}; bench client: $BENCH_BIN ($("$BENCH_BIN" --version))"

# --- base image rootfs (cached) --------------------------------------------------------------
phase base-rootfs
if [ -s "$BASE_TAR" ]; then
  say "reusing $BASE_TAR"
else
  # The first Debian mirror apt uses (one-line or deb822 sources), else deb.debian.org.
  mirror=$(cat /etc/apt/sources.list /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources 2>/dev/null |
    grep -v -E '^\s*#' | grep -E -o 'https?://[^ ]+/debian/?( |$)' | head -n1 | tr -d ' ' || true)
  mirror=${mirror:-http://deb.debian.org/debian}
  say "debootstrap --variant=minbase bookworm from $mirror (first run only)"
  mkdir -p "$CACHE"
  debootstrap --variant=minbase bookworm "$D/rootfs" "$mirror" >"$D/debootstrap.log" 2>&1 ||
    { tail -n 20 "$D/debootstrap.log"; die "debootstrap failed"; }
  # Apt sources as in Docker Hub's debian:bookworm (debootstrap lists only the release).
  security=$(cat /etc/apt/sources.list /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources 2>/dev/null |
    grep -v -E '^\s*#' | grep -E -o 'https?://[^ ]+/debian-security/?( |$)' | head -n1 | tr -d ' ' || true)
  rm -f "$D/rootfs/etc/apt/sources.list"
  printf 'Types: deb\nURIs: %s\nSuites: bookworm bookworm-updates\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n\nTypes: deb\nURIs: %s\nSuites: bookworm-security\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n' \
    "$mirror" "${security:-http://deb.debian.org/debian-security}" >"$D/rootfs/etc/apt/sources.list.d/debian.sources"
  tar -C "$D/rootfs" -cf "$BASE_TAR.tmp" . && mv "$BASE_TAR.tmp" "$BASE_TAR"
  rm -rf "$D/rootfs"
fi

# --- private daemon ---------------------------------------------------------------------------
phase daemon
# The daemon's images and containers live in memory (a few GB at most): building and removing
# them on this disk took 3x longer. RWPROXY_DOCKER_TMPFS=0 keeps them on disk.
mkdir -p "$D/root"
if [ "${RWPROXY_DOCKER_TMPFS:-1}" = 1 ]; then
  mount -t tmpfs -o size=8g,mode=0710 rwproxy-docker "$D/root" || say "no tmpfs; using the disk"
fi
dockerd --data-root "$D/root" --exec-root "$D/exec" -H "$DOCKER_HOST" \
  --pidfile "$D/dockerd.pid" >"$D/dockerd.log" 2>&1 &
DAEMON_STARTED=1
for _ in $(seq 1 300); do
  "$DOCKER" info >/dev/null 2>&1 && break
  kill -0 $! 2>/dev/null || { tail -n 20 "$D/dockerd.log"; die "dockerd exited"; }
  sleep 0.1
done
"$DOCKER" info >/dev/null 2>&1 || { tail -n 20 "$D/dockerd.log"; die "dockerd did not answer in 30 s"; }
say "dockerd $("$DOCKER" version -f '{{.Server.Version}}') on $DOCKER_HOST"

phase import-base
"$DOCKER" import "$BASE_TAR" debian:bookworm >/dev/null

# --- compose ------------------------------------------------------------------------------------
phase config
compose config -q
compose --profile observability config -q

phase build
compose build >"$D/build.log" 2>&1 || { tail -n 40 "$D/build.log"; die "docker-compose build failed"; }
for image in rwproxy-mariadb:local rwproxy:local; do
  "$DOCKER" image inspect "$image" >/dev/null 2>&1 || die "image $image was not built"
done

phase up
compose up -d
# The proxy answers a login once its container runs; then wait until reads reach a replica
# (the monitor has seen the replicas) so the routing check measures the steady state.
proxy_sql() { mariadb -h127.0.0.1 -P6033 -uapp -papp --connect-timeout=2 -N -B "$@"; }
ok=0
for _ in $(seq 1 300); do
  case "$(proxy_sql -e 'SELECT @@server_id' 2>/dev/null)" in 2 | 3) ok=1; break ;; esac
  sleep 0.1
done
[ "$ok" = 1 ] || die "no read through 127.0.0.1:6033 reached a replica within 30 s"
compose ps

# --- routing, judged by the servers' own counters ---------------------------------------------
# Com_insert / Com_select per server, and app's own statements per server (USER_STATISTICS):
# replication applies row events as Com_insert on the replicas too, but never as user app.
phase routing
declare -A CID
for n in primary replica1 replica2; do CID[$n]=$(compose ps -q "$n"); done
node_sql() { "$DOCKER" exec "${CID[$1]}" mariadb -N -B -e "$2"; }
COUNTERS="SELECT
  (SELECT VARIABLE_VALUE FROM information_schema.GLOBAL_STATUS WHERE VARIABLE_NAME = 'COM_INSERT'),
  (SELECT VARIABLE_VALUE FROM information_schema.GLOBAL_STATUS WHERE VARIABLE_NAME = 'COM_SELECT'),
  COALESCE((SELECT UPDATE_COMMANDS FROM information_schema.USER_STATISTICS WHERE USER = 'app'), 0),
  COALESCE((SELECT SELECT_COMMANDS FROM information_schema.USER_STATISTICS WHERE USER = 'app'), 0)"
declare -A C
snapshot() { for n in primary replica1 replica2; do C[$1.$n]=$(node_sql "$n" "$COUNTERS"); done; }
# delta FROM TO NODE FIELD (1 Com_insert, 2 Com_select, 3 app writes, 4 app selects)
delta() {
  local a b
  a=$(awk -v f="$4" '{ print $f }' <<<"${C[$1.$3]}")
  b=$(awk -v f="$4" '{ print $f }' <<<"${C[$2.$3]}")
  echo $((b - a))
}
for n in primary replica1 replica2; do node_sql "$n" "SET GLOBAL userstat = 1"; done

WRITES=50
READS=200
snapshot 0
{
  echo "CREATE DATABASE IF NOT EXISTS ci_check;"
  echo "CREATE TABLE IF NOT EXISTS ci_check.t (id INT PRIMARY KEY, v VARCHAR(20));"
  for i in $(seq 1 "$WRITES"); do echo "INSERT INTO ci_check.t VALUES ($i, 'row $i');"; done
} | proxy_sql
snapshot 1
# Reads come from another session: wait until both replicas applied the writes.
pos=$(node_sql primary "SELECT @@gtid_binlog_pos")
for n in replica1 replica2; do
  [ "$(node_sql "$n" "SELECT MASTER_GTID_WAIT('$pos', 30)")" = 0 ] || die "$n did not apply $pos"
done
snapshot 2
for i in $(seq 1 "$READS"); do echo "SELECT v FROM ci_check.t WHERE id = $((i % WRITES + 1));"; done |
  proxy_sql >/dev/null
snapshot 3
say "through 127.0.0.1:6033: $WRITES INSERTs, then $READS autocommit SELECTs in a new session."
say "what each server counted (writes phase | reads phase):"
printf '    %-9s %10s %10s | %10s %10s\n' node Com_insert "app writes" Com_select "app selects"
for n in primary replica1 replica2; do
  printf '    %-9s %10s %10s | %10s %10s\n' "$n" "$(delta 0 1 "$n" 1)" "$(delta 0 1 "$n" 3)" \
    "$(delta 2 3 "$n" 2)" "$(delta 2 3 "$n" 4)"
done
[ "$(delta 0 1 primary 1)" -ge "$WRITES" ] || die "the primary counted fewer than $WRITES INSERTs"
[ "$(delta 0 1 primary 3)" -ge "$WRITES" ] || die "the primary ran fewer than $WRITES writes of app"
for n in replica1 replica2; do
  [ "$(delta 0 1 "$n" 3)" -eq 0 ] || die "a write of app reached $n"
done
replica_selects=$(($(delta 2 3 replica1 2) + $(delta 2 3 replica2 2)))
[ "$replica_selects" -ge "$READS" ] || die "the replicas ran $replica_selects SELECTs, expected >= $READS"
# The primary sees only the monitor's and the healthcheck's few SELECTs, none of app's reads.
[ "$(delta 2 3 primary 2)" -lt $((READS / 4)) ] || die "the primary ran $(delta 2 3 primary 2) SELECTs: reads went there"
[ "$(delta 2 3 primary 4)" -lt $((READS / 10)) ] || die "app's reads went to the primary"
proxy_sql -e "DROP DATABASE ci_check"
# The primary's init loaded docker/storefront/schema.sql; the replicas got it by replication.
for n in primary replica1 replica2; do
  tables=$(node_sql "$n" "SELECT COUNT(t.TABLE_NAME) FROM information_schema.SCHEMATA s LEFT JOIN information_schema.TABLES t
    ON t.TABLE_SCHEMA = s.SCHEMA_NAME WHERE s.SCHEMA_NAME = 'storefront' GROUP BY s.SCHEMA_NAME")
  [ -n "$tables" ] || die "$n has no storefront schema"
  say "$n: storefront schema with $tables table(s)"
done
# rwproxy's own healthcheck (GET /health/ready: listener up, writable primary known)
# turns healthy, and the admin port answers with the backends.
state=unknown
for _ in $(seq 1 60); do
  state=$("$DOCKER" inspect -f '{{.State.Health.Status}}' "$(compose ps -q rwproxy)")
  [ "$state" = healthy ] && break
  sleep 0.5
done
[ "$state" = healthy ] || die "rwproxy's healthcheck (/health/ready) says: $state"
backends=$(mariadb -h127.0.0.1 -P6032 -uadmin -padmin --connect-timeout=2 -N -B -e "SHOW BACKENDS" | wc -l)
[ "$backends" -eq 3 ] || die "SHOW BACKENDS on the admin port listed $backends backends, expected 3"
say "rwproxy healthy (/health/ready); SHOW BACKENDS lists $backends backends"

# --- the storefront bench through the proxy -----------------------------------------------------
phase bench
"$BENCH_BIN" bench --help >/dev/null 2>&1 ||
  die "\`rwproxy bench\` is not in this build ($BENCH_BIN): it comes with the storefront branch (bench)"
"$BENCH_BIN" bench --host 127.0.0.1 --port 6033 --user app --password app --prepare --scale 0.01 \
  --concurrency 4 --duration 10 --json >"$D/bench.json" 2>"$D/bench.err" ||
  { tail -n 20 "$D/bench.err"; die "rwproxy bench failed"; }
jq -c '{qps, tps, errors, stale_reads, checkouts, errors_by_code}' "$D/bench.json" ||
  die "rwproxy bench --json did not print one JSON object: $(head -c 400 "$D/bench.json")"
[ "$(jq '.errors' "$D/bench.json")" = 0 ] || die "bench errors: $(jq -c '.errors_by_code' "$D/bench.json")"
[ "$(jq '.stale_reads' "$D/bench.json")" = 0 ] || die "bench saw stale reads"

# --- down (teardown also removes the daemon, docker0 and iptables chains) ------------------------
phase down
compose --profile observability down -v -t 1 --remove-orphans
DOWN_DONE=1
