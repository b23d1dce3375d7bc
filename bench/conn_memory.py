#!/usr/bin/env python3
"""conn_memory.py: the proxy's memory per client connection, idle and active.

Run by bench/conn-memory.sh (which can start its own cluster and proxy); usable alone:

    python3 bench/conn_memory.py --port 6033 --pid $(pidof rwproxy) --clients 400

Opens N client connections through the proxy and reads the proxy's VmRSS
(/proc/<pid>/status) after each phase, once the proxy has settled:

  idle: connected      N clients logged in, nothing sent since
  idle: after a query  each ran one autocommit SELECT, then went idle
  active: open txn     each ran BEGIN and a SELECT: a transaction open, pinned to a backend
  active: mid-result   each, still in its transaction, started a SELECT returning
                       --result-bytes and read only its first row (the rest pending)
  closed               all N closed again
With --idle-only the two active phases are left out: they hold one backend connection per
client, so N beyond the servers' max_connections works only without them.

KiB/conn is (RSS of the phase - RSS before the clients) / N. With --backend-ports it also
shows how many backend connections the N clients hold (each server's Threads_connected less
its baseline: the total, then per server in --backend-ports order). A warm-up (16 connections that each run a query) comes
first, so one-time allocations (worker threads, pools) are not counted as per-client.
Bounded: every socket operation has a timeout and the whole run a deadline.
"""

import argparse
import csv
import sys
import time

import pymysql
import pymysql.cursors


def vm_kib(pid, field):
    """VmRSS / VmHWM of pid in KiB."""
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise SystemExit(f"no {field} for pid {pid}")


class Probe:
    """Connections, deadline and the per-phase figures."""

    def __init__(self, args):
        self.a = args
        self.deadline = time.monotonic() + args.deadline
        self.rows = []
        self.monitors = [self.connect(p) for p in args.backend_ports]
        self.base_rss = None
        self.base_backends = None

    def connect(self, port):
        self.check_deadline()
        return pymysql.connect(
            host="127.0.0.1", port=port, user=self.a.user, password=self.a.password,
            autocommit=True, connect_timeout=10, read_timeout=60, write_timeout=60)

    def check_deadline(self):
        if time.monotonic() > self.deadline:
            raise SystemExit(f"deadline of {self.a.deadline} s passed")

    def backends(self):
        """Threads_connected of each backend server (empty without ports)."""
        counts = []
        for m in self.monitors:
            with m.cursor() as cur:
                cur.execute("SHOW GLOBAL STATUS LIKE 'Threads_connected'")
                counts.append(int(cur.fetchone()[1]))
        return counts

    def record(self, phase, clients):
        time.sleep(self.a.settle)
        rss = vm_kib(self.a.pid, "VmRSS")
        hwm = vm_kib(self.a.pid, "VmHWM")
        be = self.backends()
        if self.base_rss is None:
            self.base_rss, self.base_backends = rss, be
        per = (rss - self.base_rss) / clients if clients else None
        held = [n - b for n, b in zip(be, self.base_backends)] or None
        self.rows.append((phase, clients, rss, hwm, rss - self.base_rss, per, held))
        print(fmt_row(self.rows[-1]), flush=True)


HEAD = ("phase", "clients", "rss_KiB", "hwm_KiB", "delta_KiB", "KiB/conn", "backend_conns")
FMT = "{:<22} {:>7} {:>9} {:>9} {:>10} {:>9}  {}"


def fmt_row(r):
    """One table line of a recorded phase."""
    held = "-" if r[6] is None else f"{sum(r[6])} ({'/'.join(map(str, r[6]))})"
    return FMT.format(r[0], r[1], r[2], r[3], r[4], "-" if r[5] is None else f"{r[5]:.1f}", held)


def big_select(nbytes):
    """A SELECT returning about nbytes in 1000-byte rows, needing no table."""
    rows = max(2, nbytes // 1000)
    return ("WITH RECURSIVE s(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM s WHERE n < "
            f"{rows}) SELECT n, REPEAT('x', 1000) FROM s")


def run(a):
    p = Probe(a)
    for _ in range(16):
        c = p.connect(a.port)
        with c.cursor() as cur:
            cur.execute("SELECT 1")
            cur.fetchall()
        c.close()
    print(FMT.format(*HEAD))
    p.record("before clients", 0)
    conns = []
    for _ in range(a.clients):
        conns.append(p.connect(a.port))
    p.record("idle: connected", len(conns))
    for c in conns:
        p.check_deadline()
        with c.cursor() as cur:
            cur.execute("SELECT 1")
            cur.fetchall()
    p.record("idle: after a query", len(conns))
    if a.idle_only:
        for c in conns:
            c.close()
        p.record("closed", 0)
        return p.rows
    for c in conns:
        p.check_deadline()
        with c.cursor() as cur:
            cur.execute("BEGIN")
            cur.execute("SELECT 1")
            cur.fetchall()
    p.record("active: open txn", len(conns))
    streams = []
    for c in conns:
        p.check_deadline()
        cur = c.cursor(pymysql.cursors.SSCursor)
        cur.execute(big_select(a.result_bytes))
        if cur.fetchone() is None:
            raise SystemExit("the large SELECT returned no row")
        streams.append(cur)
    p.record("active: mid-result", len(conns))
    for cur in streams:
        # The rest of each result is dropped with the connection: pymysql would otherwise
        # try to read it from the closed socket when the result is collected.
        cur._result.unbuffered_active = False
    for c in conns:
        c.close()
    p.record("closed", 0)
    return p.rows


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--port", type=int, required=True, help="proxy port on 127.0.0.1")
    ap.add_argument("--pid", type=int, required=True, help="proxy pid (for /proc)")
    ap.add_argument("--clients", type=int, default=400, help="client connections (400)")
    ap.add_argument("--user", default="app")
    ap.add_argument("--password", default="app")
    ap.add_argument("--backend-ports", type=int, nargs="*", default=[],
                    help="backend server ports, to count backend connections")
    ap.add_argument("--result-bytes", type=int, default=1 << 20,
                    help="size of the mid-result SELECT's result (1 MiB)")
    ap.add_argument("--idle-only", action="store_true",
                    help="skip the active phases (which hold a backend connection per client)")
    ap.add_argument("--settle", type=float, default=1.0, help="seconds before each reading")
    ap.add_argument("--deadline", type=float, default=600, help="whole run, seconds")
    ap.add_argument("--csv", help="also write the rows to this CSV file")
    a = ap.parse_args()
    if a.clients < 1:
        ap.error("--clients must be at least 1")
    rows = run(a)
    idle = next(r[5] for r in rows if r[0] == "idle: connected")
    print(f"idle client: {idle:.1f} KiB RSS each (target <= 64 KiB)")
    if a.csv:
        with open(a.csv, "w", newline="") as f:
            w = csv.writer(f)
            ports = [f"backend_conns_{p}" for p in a.backend_ports]
            w.writerow(["phase", "clients", "rss_kib", "hwm_kib", "delta_kib", "kib_per_conn",
                        "backend_conns"] + ports)
            for r in rows:
                w.writerow([r[0], r[1], r[2], r[3], r[4],
                            "" if r[5] is None else f"{r[5]:.1f}",
                            "" if r[6] is None else sum(r[6])] + (r[6] or []))
    return 0


if __name__ == "__main__":
    sys.exit(main())
