#!/bin/bash
# Entry point of a MariaDB node of rwproxy's compose cluster.
#
# Environment: RWPROXY_ROLE = primary | replica, RWPROXY_SERVER_ID = a unique number, and for a
# replica RWPROXY_PRIMARY_HOST / RWPROXY_PRIMARY_PORT (default primary:3306).
#
# On an empty datadir it initialises the node the way the local launcher does: mariadb-install-db,
# then a private server (no TCP) that runs users.sql and the storefront schema on the primary, or
# replica.sql (GTID replication from an empty position) on a replica; then it stops that server.
# Finally it runs mariadbd in the foreground with rwproxy.cnf and this node's own options.
set -euo pipefail

role=${RWPROXY_ROLE:?set RWPROXY_ROLE to primary or replica}
server_id=${RWPROXY_SERVER_ID:?set RWPROXY_SERVER_ID to a number unique in the cluster}
primary_host=${RWPROXY_PRIMARY_HOST:-primary}
primary_port=${RWPROXY_PRIMARY_PORT:-3306}
datadir=/var/lib/mysql
share=/usr/share/rwproxy
done_marker=$datadir/rwproxy-init.done

case "$role" in
  primary) read_only=0 ;;
  replica) read_only=1 ;;
  *) echo "entrypoint: RWPROXY_ROLE must be primary or replica, not '$role'" >&2; exit 2 ;;
esac

# The shared settings first (--defaults-file must be the first option), then this node's.
server=(mariadbd --defaults-file=/etc/mysql/rwproxy.cnf --user=mysql --datadir="$datadir"
  --server-id="$server_id" --read-only="$read_only" --pid-file=/run/mysqld/mysqld.pid)

log() { echo "entrypoint[$role]: $*" >&2; }

init() {
  local sock=/run/mysqld/init.sock pid
  log "initialising $datadir"
  mariadb-install-db --no-defaults --datadir="$datadir" --user=mysql \
    --auth-root-authentication-method=socket --skip-test-db --skip-name-resolve >/dev/null
  "${server[@]}" --skip-networking --socket="$sock" &
  pid=$!
  for _ in $(seq 1 600); do
    mariadb-admin --socket="$sock" ping >/dev/null 2>&1 && break
    kill -0 "$pid" 2>/dev/null || { log "the init server exited"; exit 1; }
    sleep 0.1
  done
  mariadb-admin --socket="$sock" ping >/dev/null
  if [ "$role" = primary ]; then
    log "creating users (users.sql) and the storefront schema"
    mariadb --socket="$sock" <"$share/users.sql"
    mariadb --socket="$sock" <"$share/schema.sql"
  else
    log "replicating from $primary_host:$primary_port (replica.sql)"
    sed -e "s/@PRIMARY_HOST@/$primary_host/g" -e "s/@PRIMARY_PORT@/$primary_port/g" \
      "$share/replica.sql" | mariadb --socket="$sock"
  fi
  mariadb-admin --socket="$sock" shutdown
  wait "$pid"
  touch "$done_marker"
  log "initialised"
}

if [ ! -e "$done_marker" ]; then
  if [ -d "$datadir/mysql" ]; then
    log "$datadir holds a datadir whose initialisation did not finish; remove the volume"
    exit 1
  fi
  init
fi
exec "${server[@]}" --port=3306 --bind-address=0.0.0.0 --socket=/run/mysqld/mysqld.sock
