# summarize.awk: the summary of sysbench-compare.sh's runs.csv (run with awk -F,
# -v summary_csv=FILE). Per (test, threads, target), over the rounds whose run succeeded:
# median QPS, p95 and proxy CPU µs per query, summed errors, failed runs, median RSS and
# the highest VmHWM; on the rwproxy line, the medians of the per-round ratios rwproxy/direct
# (QPS), rwproxy/haproxy (QPS, CPU per query, p95) and rwproxy/haproxy-rr (QPS, CPU per
# query; haproxy balancing over the replicas, read-only tests). Prints a table; writes the CSV.
# Then a second table, where the CPU went per query (medians): the proxy's user and system
# time, the local servers' CPU, and the machine's idle time (CPU that nothing used: a
# proxy that adds latency leaves it idle even when it costs little CPU itself).
# Then a third, the spread of the per-round ratios (lowest-highest over the rounds): on a
# shared machine it tells a real difference from noise.
# Plain POSIX awk (Debian's default is mawk): no asort, no arrays of arrays.

function median(list,    v, n, i, j, x) {
    n = split(list, v, " ")
    if (n == 0) return "-"
    for (i = 2; i <= n; i++) {
        x = v[i] + 0
        for (j = i - 1; j >= 1 && v[j] + 0 > x; j--) v[j + 1] = v[j]
        v[j + 1] = x
    }
    if (n % 2) return v[(n + 1) / 2]
    return (v[n / 2] + v[n / 2 + 1]) / 2
}
# "low-high" of the numbers in `list`, with `p` decimals; "-" when it has none.
function spread(list, p,    v, n, i, lo, hi) {
    n = split(list, v, " ")
    if (n == 0) return "-"
    lo = hi = v[1] + 0
    for (i = 2; i <= n; i++) {
        if (v[i] + 0 < lo) lo = v[i] + 0
        if (v[i] + 0 > hi) hi = v[i] + 0
    }
    return sprintf("%." p "f-%." p "f", lo, hi)
}
function add(arr, k, x) { if (x != "") arr[k] = arr[k] " " x }
function remember(list, seen, x) {
    if (!(x in seen)) { seen[x] = 1; order[list] = order[list] " " x }
}
function ratio(a, b) { return (a == "" || b == "" || b + 0 == 0) ? "" : a / b }
function fmt(x, p) { return (x == "-" || x == "") ? "-" : sprintf("%." p "f", x) }

NR == 1 { next }
{
    round = $1; test = $2; thr = $3; tgt = $4
    remember("test", seen_test, test); remember("thr", seen_thr, thr)
    remember("tgt", seen_tgt, tgt); remember("round", seen_round, round)
    k = test SUBSEP thr SUBSEP tgt
    if ($9 != "ok") { failed[k]++; next }
    add(qps, k, $5); add(p95, k, $7); add(cpu, k, $10); add(rss, k, $11)
    add(usr, k, $14); add(sys, k, $15); add(srv, k, $16); add(idle, k, $17)
    errors[k] += $8
    if ($12 != "" && $12 + 0 > hwm[k] + 0) hwm[k] = $12
    r = round SUBSEP test SUBSEP thr
    rq[r, tgt] = $5; rc[r, tgt] = $10; rp[r, tgt] = $7
}
END {
    head = "test,threads,target,qps,p95_ms,errors,failed_runs,cpu_us_per_query,rss_mib,hwm_mib," \
        "qps_vs_direct,qps_vs_haproxy,cpu_vs_haproxy,p95_vs_haproxy,qps_vs_haproxy_rr,cpu_vs_haproxy_rr," \
        "usr_us_per_query,sys_us_per_query,servers_us_per_query,idle_us_per_query"
    print head > summary_csv
    f = "%-18s %7s %-10s %10s %8s %6s %6s %9s %8s %8s %8s %8s %8s %8s %8s %8s\n"
    g = "%-18s %7s %-10s %8s %8s %8s %8s\n"; nsplit = 0
    h = "%-18s %7s %-10s %11s %11s %11s %11s\n"; nspread = 0
    printf f, "test", "threads", "target", "qps", "p95_ms", "errors", "failed", "cpu_us/q", \
        "rss_MiB", "hwm_MiB", "qps/dir", "qps/hap", "cpu/hap", "p95/hap", "qps/hrr", "cpu/hrr"
    nt = split(order["test"], tests, " "); nh = split(order["thr"], thrs, " ")
    ng = split(order["tgt"], tgts, " "); nr = split(order["round"], rounds, " ")
    for (a = 1; a <= nt; a++) for (b = 1; b <= nh; b++) for (c = 1; c <= ng; c++) {
        test = tests[a]; thr = thrs[b]; tgt = tgts[c]; k = test SUBSEP thr SUBSEP tgt
        if (!(k in qps) && !(k in failed)) continue  # not run (haproxy-rr with writes)
        vd = vh = vc = vp = vrq = vrc = "-"
        if (tgt == "rwproxy") {
            ld = lh = lc = lp = lrq = lrc = ""
            for (i = 1; i <= nr; i++) {
                r = rounds[i] SUBSEP test SUBSEP thr
                ld = ld " " ratio(rq[r, "rwproxy"], rq[r, "direct"])
                lh = lh " " ratio(rq[r, "rwproxy"], rq[r, "haproxy"])
                lc = lc " " ratio(rc[r, "rwproxy"], rc[r, "haproxy"])
                lp = lp " " ratio(rp[r, "rwproxy"], rp[r, "haproxy"])
                lrq = lrq " " ratio(rq[r, "rwproxy"], rq[r, "haproxy-rr"])
                lrc = lrc " " ratio(rc[r, "rwproxy"], rc[r, "haproxy-rr"])
            }
            vd = median(ld); vh = median(lh); vc = median(lc); vp = median(lp)
            vrq = median(lrq); vrc = median(lrc)
            spread_row[++nspread] = sprintf(h, test, thr, tgt, spread(lh, 2), spread(lc, 2), \
                spread(lrq, 2), spread(lrc, 2))
        }
        row_q = fmt(median(qps[k]), 0); row_p = fmt(median(p95[k]), 2)
        row_c = fmt(median(cpu[k]), 1); row_r = fmt(median(rss[k]), 1)
        row_h = (k in hwm) ? hwm[k] : "-"
        split_row[++nsplit] = sprintf(g, test, thr, tgt, fmt(median(usr[k]), 1), \
            fmt(median(sys[k]), 1), fmt(median(srv[k]), 1), fmt(median(idle[k]), 1))
        printf f, test, thr, tgt, row_q, row_p, errors[k] + 0, failed[k] + 0, row_c, row_r, \
            row_h, fmt(vd, 2), fmt(vh, 2), fmt(vc, 2), fmt(vp, 2), fmt(vrq, 2), fmt(vrc, 2)
        line = test "," thr "," tgt "," row_q "," row_p "," (errors[k] + 0) "," (failed[k] + 0) \
            "," row_c "," row_r "," row_h "," fmt(vd, 2) "," fmt(vh, 2) "," fmt(vc, 2) "," fmt(vp, 2) \
            "," fmt(vrq, 2) "," fmt(vrc, 2) "," fmt(median(usr[k]), 1) "," fmt(median(sys[k]), 1) \
            "," fmt(median(srv[k]), 1) "," fmt(median(idle[k]), 1)
        gsub(/,-/, ",", line)
        print line > summary_csv
    }
    printf "\nwhere the CPU went, µs per query (medians): the proxy's user and system time, the\n"
    printf "local servers' CPU together, and the machine's idle time\n"
    printf g, "test", "threads", "target", "usr", "sys", "servers", "idle"
    for (i = 1; i <= nsplit; i++) printf "%s", split_row[i]
    if (nspread == 0) exit
    printf "\nspread of rwproxy's per-round ratios (lowest-highest over the rounds)\n"
    printf h, "test", "threads", "target", "qps/hap", "cpu/hap", "qps/hrr", "cpu/hrr"
    for (i = 1; i <= nspread; i++) printf "%s", spread_row[i]
}
