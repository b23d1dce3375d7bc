#!/usr/bin/env bash
# The demo: starts a local MariaDB primary + 2 replicas (GTID replication), rwproxy in
# front of them, runs a bounded read/write workload through the proxy, and shows where
# the statements went, counted by each server itself. Ctrl-C or the end cleans up.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${BIN:-target/release/rwproxy}
DURATION=${DURATION:-15}
WORK=$(mktemp -d /tmp/rwproxy-demo.XXXXXX)
PROXY_PID=""

cleanup() {
    [ -n "$PROXY_PID" ] && kill "$PROXY_PID" 2>/dev/null && wait "$PROXY_PID" 2>/dev/null || true
    "$BIN" cluster --dir "$WORK/cluster" down >/dev/null 2>&1 || true
    rm -rf "$WORK"
}
trap cleanup EXIT INT TERM

command -v mariadbd >/dev/null 2>&1 || [ -x /usr/sbin/mariadbd ] || {
    echo "mariadbd not found: apt-get install -y mariadb-server mariadb-client sysbench" >&2; exit 1; }
export PATH="$PATH:/usr/sbin"

PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
echo "== starting the cluster (primary + 2 replicas)"
"$BIN" cluster --dir "$WORK/cluster" up --write-config "$WORK/rwproxy.toml" --listen "127.0.0.1:$PORT"

echo "== starting rwproxy on 127.0.0.1:$PORT"
"$BIN" run --config "$WORK/rwproxy.toml" 2>"$WORK/rwproxy.log" &
PROXY_PID=$!
for _ in $(seq 1 100); do (echo > /dev/tcp/127.0.0.1/$PORT) 2>/dev/null && break; sleep 0.1; done

PORTS=$(grep -A1 '^name = ' "$WORK/rwproxy.toml" | grep -o '127.0.0.1:[0-9]*' | cut -d: -f2)
counts() {
    for p in $PORTS; do
        mariadb -h127.0.0.1 -P"$p" -uapp -papp -N -B -e \
            "SELECT $p, SUM(IF(VARIABLE_NAME='COM_SELECT',VARIABLE_VALUE,0)), SUM(IF(VARIABLE_NAME IN ('COM_INSERT','COM_UPDATE','COM_DELETE'),VARIABLE_VALUE,0)) FROM information_schema.GLOBAL_STATUS WHERE VARIABLE_NAME IN ('COM_SELECT','COM_INSERT','COM_UPDATE','COM_DELETE')"
    done
}

SB="sysbench --db-driver=mysql --mysql-host=127.0.0.1 --mysql-port=$PORT --mysql-user=app --mysql-password=app --mysql-db=demo --tables=2 --table-size=2000"
mariadb -h127.0.0.1 -P"$PORT" -uapp -papp -e "CREATE DATABASE IF NOT EXISTS demo"
echo "== loading data through rwproxy"
$SB oltp_read_write prepare >/dev/null
BEFORE=$(counts)
echo "== running a read/write workload through rwproxy for ${DURATION}s"
# Autocommit statements (--skip-trx) so reads can be spread; without transactions two
# threads may collide on a key (1062), as they would against the server itself.
$SB oltp_read_write --skip-trx=on --mysql-ignore-errors=1062,1213 --threads=4 \
    --time="$DURATION" --report-interval=5 run | grep -E "^\[|queries:|transactions:|errors:|95th"
AFTER=$(counts)

echo
echo "== where the statements went (counted by each server)"
printf "%-10s %-7s %10s %10s\n" backend port selects writes
i=0
paste <(echo "$BEFORE") <(echo "$AFTER") | while read -r p s1 w1 _ s2 w2; do
    name=primary; [ $i -gt 0 ] && name="replica$i"
    printf "%-10s %-7s %10s %10s\n" "$name" "$p" $((s2 - s1)) $((w2 - w1))
    i=$((i + 1))
done
echo "(replicas' writes are replicated row events; reads go where rwproxy routes them)"
