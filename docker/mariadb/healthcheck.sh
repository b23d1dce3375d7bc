#!/bin/bash
# Health of a MariaDB node of rwproxy's compose cluster: the real server (not the entrypoint's
# init server, which has another socket) answers; on a replica, both replication threads run
# and the accounts from the primary's users.sql have arrived, so rwproxy can log in to it.
set -euo pipefail
sql() { mariadb --socket=/run/mysqld/mysqld.sock -N -B -e "$1"; }
sql "SELECT 1" >/dev/null
[ "${RWPROXY_ROLE:-}" = replica ] || exit 0
status=$(mariadb --socket=/run/mysqld/mysqld.sock -e "SHOW SLAVE STATUS\G")
grep -q "Slave_IO_Running: Yes" <<<"$status"
grep -q "Slave_SQL_Running: Yes" <<<"$status"
[ "$(sql "SELECT COUNT(*) FROM mysql.user WHERE user IN ('app', 'monitor')")" = 2 ]
