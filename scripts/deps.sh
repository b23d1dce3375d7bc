#!/usr/bin/env bash
# Installs what the demo and the tests need, from Debian's packages, when missing:
# MariaDB server and client (the tests and the demo start their own servers) and sysbench;
# with --bench also haproxy (bench/sysbench-compare.sh's L4 baseline) and PyMySQL
# (bench/conn-memory.sh).
set -euo pipefail
bench=0
[ "${1:-}" = "--bench" ] && bench=1
need=()
command -v mariadbd >/dev/null 2>&1 || [ -x /usr/sbin/mariadbd ] || need+=(mariadb-server)
command -v mariadb >/dev/null 2>&1 || need+=(mariadb-client)
command -v sysbench >/dev/null 2>&1 || need+=(sysbench)
if [ "$bench" = 1 ]; then
    command -v haproxy >/dev/null 2>&1 || [ -x /usr/sbin/haproxy ] || need+=(haproxy)
    python3 -c 'import pymysql' >/dev/null 2>&1 || need+=(python3-pymysql)
fi
[ ${#need[@]} -eq 0 ] && exit 0
echo "installing: ${need[*]}"
SUDO=""
[ "$(id -u)" -ne 0 ] && SUDO="sudo"
$SUDO apt-get update
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y "${need[@]}"
