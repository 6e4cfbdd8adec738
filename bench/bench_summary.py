#!/usr/bin/env python3
"""bench_summary.py — turns the raw files of one bench/bench_proxy.sh run into the report:
per-round and median requests/s, p50, p99, CPU microseconds per request, system calls per
request (strace -c), memory per idle connection, and the onegate/nginx ratios.

Input directory (written by bench_proxy.sh):
  meta.txt                 key=value lines (parameters, versions)
  rounds.tsv               round, target, cpu_ticks, wrk output file (one line per wrk run)
  strace-TARGET.txt        strace -c -f output over a fixed run; strace-TARGET.wrk that run
  mem-TARGET.txt           bench/idle_conns.py output line
Stdlib only."""
import os
import re
import statistics
import sys

TARGETS = ("nginx", "onegate")
UNIT_US = {"us": 1.0, "ms": 1000.0, "s": 1e6}
CLEAN_SHARE = 0.9


def parse_wrk(text):
    """Requests/s, p50/p99 in microseconds, completed requests and error counts."""
    out = {"errors": 0, "non2xx": 0}
    m = re.search(r"Requests/sec:\s+([0-9.]+)", text)
    out["rps"] = float(m.group(1)) if m else float("nan")
    m = re.search(r"(\d+) requests in ([0-9.]+)(us|ms|s|m)", text)
    out["requests"] = int(m.group(1)) if m else 0
    for pct in ("50", "99"):
        m = re.search(r"^\s+%s(?:\.0+)?%%\s+([0-9.]+)(us|ms|s)\s*$" % pct, text, re.M)
        out["p" + pct] = float(m.group(1)) * UNIT_US[m.group(2)] if m else float("nan")
    m = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", text)
    if m:
        out["errors"] = sum(int(x) for x in m.groups())
    m = re.search(r"Non-2xx or 3xx responses: (\d+)", text)
    if m:
        out["non2xx"] = int(m.group(1))
    return out


def parse_strace(text):
    """{syscall: calls} and the total from strace -c output."""
    calls = {}
    for line in text.splitlines():
        tok = line.split()
        if len(tok) in (5, 6) and re.match(r"^[0-9.]+$", tok[0]) and tok[3].isdigit():
            calls[tok[-1]] = int(tok[3])
    total = calls.pop("total", sum(calls.values()))
    return calls, total


def read(path):
    with open(path) as f:
        return f.read()


def share(w):
    """The proxy's share of its core's busy time in a round (1.0: nothing else ran there)."""
    return w["cpu_util"] / w["proxy_core"] if w["proxy_core"] > 0 else float("nan")


def median(xs):
    xs = [x for x in xs if x == x]
    return statistics.median(xs) if xs else float("nan")


def fmt_ratio(a, b):
    return "%.2fx" % (a / b) if b and a == a and b == b else "n/a"


def main(res):
    meta = {}
    for line in read(os.path.join(res, "meta.txt")).splitlines():
        if "=" in line:
            k, v = line.split("=", 1)
            meta[k] = v
    clk = float(meta.get("clk_tck", "100"))
    label = {"nginx": "nginx", "onegate": meta.get("onegate_label", "onegate")}

    rounds = {t: [] for t in TARGETS}
    for line in read(os.path.join(res, "rounds.tsv")).splitlines():
        f = line.split("\t")
        rnd, target, ticks, wrkfile = f[:4]
        w = parse_wrk(read(wrkfile))
        w["round"] = int(rnd)
        up, pbusy, ptotal, lbusy, ltotal = (int(x) for x in (f[4:9] if len(f) >= 9 else
                                                             (0, 0, 0, 0, 0)))
        w["up_us_per_req"] = up / clk * 1e6 / w["requests"] if w["requests"] else float("nan")
        w["proxy_core"] = pbusy / ptotal if ptotal else float("nan")
        w["load_core"] = lbusy / ltotal if ltotal else float("nan")
        w["cpu_us_per_req"] = (int(ticks) / clk * 1e6 / w["requests"]) if w["requests"] else \
            float("nan")
        w["cpu_util"] = int(ticks) / clk / float(meta.get("duration", "1"))
        rounds[target].append(w)

    out = []
    p = out.append
    p("Per round (wrk -t1 -c%s -d%ss %s):" % (meta.get("conns"), meta.get("duration"),
                                               meta.get("path")))
    p("  CPU%: the proxy process's share of its core; core%: how busy the proxy's core and")
    p("  the load core (wrk + upstream) were, counting every process on them.")
    p("  A '*' marks a proxy that had less than %d%% of its core's busy time (not clean)."
      % (100 * CLEAN_SHARE))
    p("  %-5s %-8s %10s %8s %8s %10s %6s %6s %6s %10s %6s" % (
        "round", "proxy", "req/s", "p50 us", "p99 us", "CPU us/req", "CPU%", "core%",
        "load%", "upstr us/r", "errors"))
    for i in range(max(len(v) for v in rounds.values())):
        for t in TARGETS:
            if i < len(rounds[t]):
                w = rounds[t][i]
                mark = "*" if share(w) < CLEAN_SHARE else " "
                p("  %-5d %-8s %10.0f %8.0f %8.0f %10.1f %5.0f%%%s%5.0f%% %5.0f%% %10.1f %6d"
                  % (w["round"], t, w["rps"], w["p50"], w["p99"], w["cpu_us_per_req"],
                     100 * w["cpu_util"], mark, 100 * w["proxy_core"], 100 * w["load_core"],
                     w["up_us_per_req"], w["errors"] + w["non2xx"]))

    # A round is "clean" when each proxy had at least CLEAN_SHARE of its core's busy time:
    # nothing else (parallel builds, tests) was competing for the proxy's CPU in that round.
    nrounds = min(len(rounds[t]) for t in TARGETS)
    clean_idx = [i for i in range(nrounds)
                 if all(not share(rounds[t][i]) < CLEAN_SHARE for t in TARGETS)]
    keys = ("rps", "p50", "p99", "cpu_us_per_req")
    med = {t: {k: median([w[k] for w in rounds[t]]) for k in keys} for t in TARGETS}
    med_clean = {t: {k: median([rounds[t][i][k] for i in clean_idx]) for k in keys}
                 for t in TARGETS}
    use_clean = len(clean_idx) >= 3 and len(clean_idx) < nrounds
    errors = {t: sum(w["errors"] + w["non2xx"] for w in rounds[t]) for t in TARGETS}

    sc = {}
    for t in TARGETS:
        sp, wp = os.path.join(res, "strace-%s.txt" % t), os.path.join(res, "strace-%s.wrk" % t)
        if os.path.exists(sp) and os.path.exists(wp):
            calls, total = parse_strace(read(sp))
            reqs = parse_wrk(read(wp))["requests"]
            sc[t] = (calls, total, reqs)
    mem = {}
    for t in TARGETS:
        mp = os.path.join(res, "mem-%s.txt" % t)
        if os.path.exists(mp):
            m = re.search(r"bytes_per_conn=(-?\d+)", read(mp))
            n = re.search(r"conns=(\d+)", read(mp))
            if m:
                mem[t] = (int(m.group(1)), int(n.group(1)))

    p("")
    p("=" * 78)
    p("SUMMARY  onegate vs nginx — %s" % meta.get("date", ""))
    p("=" * 78)
    p("Setup: %s rounds x %ss, wrk -t1 -c%s, GET %s (%s-byte body), loopback."
      % (meta.get("rounds"), meta.get("duration"), meta.get("conns"), meta.get("path"),
         meta.get("body_bytes", "?")))
    p("CPUs: proxy on CPU %s; wrk and the demo-portal upstream on CPU %s. %s."
      % (meta.get("proxy_cpu"), meta.get("load_cpu"), meta.get("versions", "")))
    p("Load average at start / end: %s / %s (other load on the machine skews all figures)."
      % (meta.get("loadavg_start", "?"), meta.get("loadavg_end", "?")))
    if meta.get("onegate_label", "onegate") != "onegate":
        p("DRY RUN: the 'onegate' column is %s." % meta["onegate_label"])
    p("")
    p("| metric (median of rounds)      | %-13s | %-13s | onegate/nginx |" % ("nginx",
                                                                               label["onegate"]))
    p("|--------------------------------|---------------|---------------|---------------|")

    def row(name, key, fmt, m=med):
        a, b = m["nginx"][key], m["onegate"][key]
        p("| %-30s | %13s | %13s | %13s |" % (name, fmt % a, fmt % b, fmt_ratio(b, a)))

    def timing_rows(m, suffix):
        row("requests/s" + suffix, "rps", "%.0f", m)
        row("latency p50 (us)" + suffix, "p50", "%.0f", m)
        row("latency p99 (us)" + suffix, "p99", "%.0f", m)
        row("CPU us per request" + suffix, "cpu_us_per_req", "%.1f", m)

    if use_clean:
        timing_rows(med_clean, ", clean")
    timing_rows(med, ", all" if use_clean else "")
    if "nginx" in sc and "onegate" in sc:
        a = sc["nginx"][1] / sc["nginx"][2] if sc["nginx"][2] else float("nan")
        b = sc["onegate"][1] / sc["onegate"][2] if sc["onegate"][2] else float("nan")
        p("| %-30s | %13.2f | %13.2f | %13s |" % ("syscalls per request (strace)", a, b,
                                                  fmt_ratio(b, a)))
    if "nginx" in mem and "onegate" in mem:
        a, b = mem["nginx"][0], mem["onegate"][0]
        p("| %-30s | %13d | %13d | %13s |" % ("RSS bytes per idle connection", a, b,
                                              fmt_ratio(b, a)))
    p("")
    if use_clean:
        p("'clean': median over the %d of %d rounds in which both proxies had >= %d%% of "
          "their core's busy time (rounds %s);" % (len(clean_idx), nrounds, 100 * CLEAN_SHARE,
                                                   " ".join(str(i + 1) for i in clean_idx)))
        p("'all': every round, including those where other processes took the proxy's CPU.")
    elif len(clean_idx) < 3:
        p("Fewer than 3 clean rounds (%d of %d): other processes competed for the proxy's CPU;"
          " the timing rows above are unreliable." % (len(clean_idx), nrounds))
    mt = med_clean if use_clean else med
    ratio_rps = mt["onegate"]["rps"] / mt["nginx"]["rps"] if mt["nginx"]["rps"] else 0
    ratio_p99 = mt["onegate"]["p99"] / mt["nginx"]["p99"] if mt["nginx"]["p99"] else 99
    p("Per-round requests/s ratio onegate/nginx (same round): %s" % " ".join(
        "%.2f" % (o["rps"] / n["rps"]) for n, o in zip(rounds["nginx"], rounds["onegate"])))
    p("wrk errors + non-2xx over all rounds: nginx %d, onegate %d"
      % (errors["nginx"], errors["onegate"]))
    for t in TARGETS:
        if t in sc:
            calls, total, reqs = sc[t]
            top = sorted(calls.items(), key=lambda kv: -kv[1])[:6]
            p("syscalls/request %-8s %.2f = %s  (%d calls / %d requests)"
              % (t, total / reqs if reqs else float("nan"),
                 " + ".join("%s %.2f" % (k, v / reqs) for k, v in top) if reqs else "",
                 total, reqs))
    for t in TARGETS:
        if t in mem:
            p("idle connections %-8s %d bytes each (%d connections held)"
              % (t, mem[t][0], mem[t][1]))
    for t in TARGETS:
        util = median([rounds[t][i]["cpu_util"] for i in clean_idx])
        load = median([rounds[t][i]["load_core"] for i in clean_idx])
        if util == util and util < 0.9 and load > 0.95:
            p("NOTE: %s used %.0f%% of its core while the load core was %.0f%% busy: the load "
              "side limited requests/s; compare CPU us/request for capacity."
              % (t, 100 * util, 100 * load))
    p("")
    checks = [("requests/s >= 1.0x nginx", ratio_rps >= 1.0, "%.2fx" % ratio_rps),
              ("p99 <= 1.1x nginx", ratio_p99 <= 1.1, "%.2fx" % ratio_p99)]
    if "nginx" in sc and "onegate" in sc and sc["nginx"][2] and sc["onegate"][2]:
        a = sc["nginx"][1] / sc["nginx"][2]
        b = sc["onegate"][1] / sc["onegate"][2]
        checks.append(("syscalls/request <= nginx", b <= a, "%.2f vs %.2f" % (b, a)))
    for name, ok, val in checks:
        p("target %-28s %s (%s)" % (name, "MET" if ok else "NOT MET", val))
    p("=" * 78)
    print("\n".join(out))


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: bench_summary.py RESULTS_DIR")
    main(sys.argv[1])
