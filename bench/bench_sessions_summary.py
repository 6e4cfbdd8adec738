#!/usr/bin/env python3
"""bench_sessions_summary.py — the report of one bench/bench_sessions.sh run: per-round and
median requests/s, p50, p99, CPU per request for (a) nginx, (b) onegate with session + policy,
(c) nginx auth_request -> onegate whoami, (d) onegate on a public route (no session check);
ratios vs (a); Redis commands and CPU per request;
system calls per request; logins per second (and per core-second of onegate CPU); p50/p99 of
(b) while logins run flat out vs idle.

Input directory (written by bench_sessions.sh):
  meta.txt             key=value lines
  rounds.tsv           round, variant, wrk file, proxy ticks, redis ticks, upstream ticks,
                       proxy core busy, total, load core busy, total   (one line per wrk run)
  <wrk file>.cmdstats  redis INFO commandstats after the run (reset before it)
  strace-V.N.txt       strace -c of process N of variant V; strace-V.wrk the run
  logins.tsv           round, login_load output file, onegate ticks   (logins alone)
  login-rounds.tsv     like rounds.tsv; variant = sat-idle, sat-busy, rate-idle, rate-busy;
                       busy runs have <wrk file>.logins (login_load output)
Stdlib only."""
import glob
import os
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bench_summary import median, parse_strace, parse_wrk, read  # noqa: E402

VARIANTS = ("nginx", "onegate", "authreq", "public")
IGNORED_CMDS = ("config", "info")      # the script's own RESETSTAT / INFO


def parse_cmdstats(path):
    """{command: (calls, usec)} without the bench's own commands."""
    out = {}
    if not os.path.exists(path):
        return out
    for m in re.finditer(r"^cmdstat_([^:]+):calls=(\d+),usec=(\d+)", read(path), re.M):
        name = m.group(1)
        if name.split("|")[0] in IGNORED_CMDS:
            continue
        out[name] = (int(m.group(2)), int(m.group(3)))
    return out


def parse_kv(text):
    return {k: v for k, v in re.findall(r"(\w+)=(\S+)", text)}


def load_runs(path, clk, duration):
    runs = []
    if not os.path.exists(path):
        return runs
    for line in read(path).splitlines():
        f = line.split("\t")
        rnd, label, wrkfile = f[0], f[1], f[2]
        ticks = [int(x) for x in f[3:10]]
        w = parse_wrk(read(wrkfile))
        n = w["requests"] or float("nan")
        w.update(round=int(rnd), label=label, file=wrkfile)
        w["cpu_us"] = ticks[0] / clk * 1e6 / n
        w["redis_us"] = ticks[1] / clk * 1e6 / n
        w["up_us"] = ticks[2] / clk * 1e6 / n
        w["cpu_util"] = ticks[0] / clk / duration
        w["proxy_core"] = ticks[3] / ticks[4] if ticks[4] else float("nan")
        w["load_core"] = ticks[5] / ticks[6] if ticks[6] else float("nan")
        cs = parse_cmdstats(wrkfile + ".cmdstats")
        w["evalsha"] = sum(c for k, (c, u) in cs.items() if k in ("evalsha", "eval")) / n
        # commands the gateway sent (each request sends one, so = round trips per request): the
        # touch script, or on the fast path one plain HMGET; the script's own two HMGETs (session,
        # card) are counted by Redis too and are taken out here
        hm = cs.get("hmget", (0, 0))[0] / n
        w["sent"] = w["evalsha"] + max(0.0, hm - 2 * w["evalsha"])
        w["cmds"] = sum(c for c, u in cs.values()) / n
        w["script_usec"] = sum(u for k, (c, u) in cs.items() if k in ("evalsha", "eval")) / n
        w["cmdstats"] = cs
        lp = wrkfile + ".logins"
        w["logins"] = parse_kv(read(lp)) if os.path.exists(lp) else {}
        runs.append(w)
    return runs


def fr(a, b):
    return a / b if b and a == a and b == b else float("nan")


def main(res):
    meta = {}
    for line in read(os.path.join(res, "meta.txt")).splitlines():
        if "=" in line:
            k, v = line.split("=", 1)
            meta[k] = v
    clk = float(meta.get("clk_tck", "100"))
    dur = float(meta.get("duration", "5"))
    runs = load_runs(os.path.join(res, "rounds.tsv"), clk, dur)
    by = {v: [w for w in runs if w["label"] == v] for v in VARIANTS}

    out = []
    p = out.append
    p("Per round (wrk -t1 -c%s -d%ss GET %s, session cookie on every request):"
      % (meta.get("conns"), meta.get("duration"), meta.get("path")))
    p("  CPU%%: the proxy processes' share of core %s; core%%: that core busy (all processes); "
      "load%%: core %s busy" % (meta.get("proxy_cpu"), meta.get("load_cpu")))
    p("  %-3s %-8s %9s %7s %7s %9s %9s %5s %5s %5s %6s" % (
        "rnd", "variant", "req/s", "p50 us", "p99 us", "CPU us/r", "redis us", "CPU%",
        "core%", "load%", "errors"))
    for w in runs:
        p("  %-3d %-8s %9.0f %7.0f %7.0f %9.1f %9.1f %4.0f%% %4.0f%% %4.0f%% %6d"
          % (w["round"], w["label"], w["rps"], w["p50"], w["p99"], w["cpu_us"], w["redis_us"],
             100 * w["cpu_util"], 100 * w["proxy_core"], 100 * w["load_core"],
             w["errors"] + w["non2xx"]))

    keys = ("rps", "p50", "p99", "cpu_us", "redis_us", "evalsha", "sent", "cmds", "script_usec",
            "cpu_util", "load_core")
    med = {v: {k: median([w[k] for w in by[v]]) for k in keys} for v in VARIANTS}
    base = med["nginx"]

    p("")
    p("=" * 86)
    p("SUMMARY  sessions and policy (issue 4) — %s" % meta.get("date", ""))
    p("=" * 86)
    p("Setup: %s rounds x %ss per variant, order rotated; wrk -t1 -c%s; GET %s (%s-byte body); "
      "loopback; upstream keepalive pool %s (nginx) / max_idle_per_server %s (onegate)."
      % (meta.get("rounds"), meta.get("duration"), meta.get("conns"), meta.get("path"),
         meta.get("body_bytes"), meta.get("upstream_keepalive"), meta.get("upstream_keepalive")))
    p("CPUs: proxies on CPU %s (nginx worker / onegate with workers: 1 and its %s work threads / "
      "nginx + onegate for (c)); wrk, demo-portal, login client on CPU %s; redis-server "
      "(appendonly yes) on CPU %s." % (meta.get("proxy_cpu"), meta.get("work_threads") or
                                        "default", meta.get("load_cpu"), meta.get("redis_cpu")))
    p("%s." % meta.get("versions", ""))
    p("Load average at start / end: %s / %s." % (meta.get("loadavg_start"),
                                                 meta.get("loadavg_end")))
    p("")
    p("| median of rounds             | %-13s | %-13s | %-13s | %-13s |" % (
        "(a) nginx", "(b) onegate", "(c) auth_req", "(d) og public"))
    p("|------------------------------|---------------|---------------|---------------|"
      "---------------|")

    def row(name, key, fmt, ratio=False):
        cells = []
        for v in VARIANTS:
            s = fmt % med[v][key]
            if ratio and v != "nginx":
                s += " %.2fx" % fr(med[v][key], base[key])
            cells.append(s)
        p("| %-28s | %13s | %13s | %13s | %13s |" % tuple([name] + cells))

    row("requests/s (x vs a)", "rps", "%.0f", True)
    row("latency p50 us (x vs a)", "p50", "%.0f", True)
    row("latency p99 us (x vs a)", "p99", "%.0f", True)
    row("proxy CPU us/request", "cpu_us", "%.1f", True)
    row("redis-server CPU us/request", "redis_us", "%.1f")
    row("Redis round trips/request", "sent", "%.2f")
    row("  of which the touch script", "evalsha", "%.2f")
    row("Redis commands/request", "cmds", "%.2f")
    row("Redis script usec/request", "script_usec", "%.1f")

    # system calls
    sc = {}
    for v in VARIANTS:
        files = sorted(glob.glob(os.path.join(res, "strace-%s.*.txt" % v)))
        wp = os.path.join(res, "strace-%s.wrk" % v)
        if files and os.path.exists(wp):
            reqs = parse_wrk(read(wp))["requests"]
            calls, total = {}, 0
            for f in files:
                c, t = parse_strace(read(f))
                total += t
                for k, n in c.items():
                    calls[k] = calls.get(k, 0) + n
            sc[v] = (calls, total, reqs)
    if len(sc) == len(VARIANTS):
        p("| %-28s | %13.2f | %13.2f | %13.2f | %13.2f |" % tuple(
            ["syscalls/request (strace)"] + [fr(sc[v][1], sc[v][2]) for v in VARIANTS]))
    p("")
    p("Session check + policy stage in onegate: %.1f us CPU per request ((b) - (d)), plus "
      "%.1f us in redis-server; (b)/(d) requests/s %.2fx." % (
          med["onegate"]["cpu_us"] - med["public"]["cpu_us"], med["onegate"]["redis_us"],
          fr(med["onegate"]["rps"], med["public"]["rps"])))
    p("Per-round requests/s ratio vs (a), same round (median: less sensitive to load that "
      "changes between rounds):")
    rr = {}
    for v in ("onegate", "authreq", "public"):
        rr[v] = [fr(o["rps"], n["rps"]) for n, o in zip(by["nginx"], by[v])]
        p("  %-8s %s  median %.2f" % (v, " ".join("%.2f" % x for x in rr[v]), median(rr[v])))
    p("wrk errors + non-2xx: " + ", ".join("%s %d" % (v, sum(w["errors"] + w["non2xx"]
                                                            for w in by[v])) for v in VARIANTS))
    for v in VARIANTS:
        if v in sc:
            calls, total, reqs = sc[v]
            top = sorted(calls.items(), key=lambda kv: -kv[1])[:7]
            p("syscalls/request %-8s %.2f = %s" % (
                v, fr(total, reqs), " + ".join("%s %.2f" % (k, fr(n, reqs)) for k, n in top)))
    for v in ("onegate", "authreq"):
        cs = {}
        for w in by[v]:
            for k, (c, u) in w["cmdstats"].items():
                a = cs.setdefault(k, [0, 0])
                a[0] += c
                a[1] += u
        reqs = sum(w["requests"] for w in by[v])
        if reqs and cs:
            p("redis commandstats %-8s per request: %s" % (v, ", ".join(
                "%s %.2f calls %.1f us" % (k, c / reqs, u / reqs) for k, (c, u) in
                sorted(cs.items(), key=lambda kv: -kv[1][0]))))
    for v in VARIANTS:
        util = med[v]["cpu_util"]
        share = median([w["cpu_util"] / w["proxy_core"] for w in by[v] if w["proxy_core"] > 0])
        if share == share and share < 0.85:
            p("WARNING: %s had only %.0f%% of its core's busy time: other processes competed "
              "for it." % (v, 100 * share))
        elif util == util and util < 0.9 and med[v]["load_core"] > 0.95:
            p("NOTE: %s used %.0f%% of its core while the load core was %.0f%% busy: the load "
              "side limited it; compare CPU us/request." % (v, 100 * util,
                                                           100 * med[v]["load_core"]))

    # logins
    lg = []
    lpath = os.path.join(res, "logins.tsv")
    if os.path.exists(lpath):
        for line in read(lpath).splitlines():
            rnd, f, ticks = line.split("\t")
            kv = parse_kv(read(f))
            if "logins" in kv:
                n = int(kv["logins"])
                lg.append(dict(rate=float(kv["rate"]), p50=float(kv["p50_ms"]),
                               p99=float(kv["p99_ms"]), failed=int(kv["failed"]),
                               cpu_s=int(ticks) / clk, n=n))
    lr = load_runs(os.path.join(res, "login-rounds.tsv"), clk, dur)
    if lg:
        rate = median([x["rate"] for x in lg])
        per_core_s = median([fr(x["n"], x["cpu_s"]) for x in lg])
        p("")
        p("Logins (JSON login endpoint, default argon2id m=19 MiB t=2 p=1; %s clients cycling "
          "through %s people; onegate pinned to one core, %s work threads):"
          % (meta.get("login_clients"), meta.get("login_users"),
             meta.get("work_threads") or "default"))
        p("  logins alone, per round: %s /s (failed: %d)" % (
            " ".join("%.1f" % x["rate"] for x in lg), sum(x["failed"] for x in lg)))
        p("  median %.1f logins/s on one core = %.1f logins/s per core; %.1f logins per "
          "core-second of onegate CPU (%.1f ms CPU per login); login latency p50 %.0f ms, "
          "p99 %.0f ms" % (rate, rate, per_core_s, 1000 / per_core_s if per_core_s else 0,
                           median([x["p50"] for x in lg]), median([x["p99"] for x in lg])))
        busy_rates = [float(w["logins"]["rate"]) for w in lr if w["logins"].get("rate")]
        if busy_rates:
            p("  logins/s while (b) traffic runs: %s" % " ".join("%.1f" % x for x in busy_rates))
    if lr:
        p("")
        p("(b) requests while logins run flat out vs idle (median of %d rounds):"
          % len({w["round"] for w in lr}))
        p("| load on (b)                         | req/s idle | req/s busy | p50 idle | p50 busy "
          "| p99 idle | p99 busy | p99 busy/idle |")
        p("|-------------------------------------|------------|------------|----------|----------"
          "|----------|----------|---------------|")
        for mode, desc in (("sat", "saturating, wrk -c%s" % meta.get("conns")),
                           ("rate", "moderate, wrk -c%s + %s ms pauses" % (
                               meta.get("rate_conns"), meta.get("rate_delay_ms")))):
            m = {s: {k: median([w[k] for w in lr if w["label"] == "%s-%s" % (mode, s)])
                     for k in ("rps", "p50", "p99")} for s in ("idle", "busy", "busynice")}
            p("| %-35s | %10.0f | %10.0f | %8.0f | %8.0f | %8.0f | %8.0f | %13s |" % (
                desc, m["idle"]["rps"], m["busy"]["rps"], m["idle"]["p50"], m["busy"]["p50"],
                m["idle"]["p99"], m["busy"]["p99"],
                "%.2fx" % fr(m["busy"]["p99"], m["idle"]["p99"])))
            if m["busynice"]["rps"] == m["busynice"]["rps"]:
                p("| %-35s | %10s | %10.0f | %8s | %8.0f | %8s | %8.0f | %13s |" % (
                    "  same, work threads at nice %s" % meta.get("work_nice", "?"), "",
                    m["busynice"]["rps"], "", m["busynice"]["p50"], "", m["busynice"]["p99"],
                    "%.2fx" % fr(m["busynice"]["p99"], m["idle"]["p99"])))
            if mode == "sat":
                sat_ratio = fr(m["busy"]["p99"], m["idle"]["p99"])
            else:
                rate_ratio = fr(m["busy"]["p99"], m["idle"]["p99"])
        p("  per run: " + "; ".join("r%d %s %.0f/s p99 %.0f us" % (w["round"], w["label"],
                                                                   w["rps"], w["p99"])
                                    for w in lr))

    p("")
    r_b = fr(med["onegate"]["rps"], base["rps"])
    p("target (b) requests/s >= 0.85x (a): %s (%.2fx of medians, %.2fx median per-round ratio); "
      "(c) is %.2fx (%.2fx)" % ("MET" if r_b >= 0.85 else "NOT MET", r_b, median(rr["onegate"]),
                               fr(med["authreq"]["rps"], base["rps"]), median(rr["authreq"])))
    rt = med["onegate"]["sent"]
    p("target <= 1 Redis round trip per request: %s (%.2f commands sent per request, %.2f of them "
      "the touch script; %.2f commands counting those inside the script)"
      % ("MET" if rt <= 1.05 else "NOT MET", rt, med["onegate"]["evalsha"],
         med["onegate"]["cmds"]))
    if lr:
        p("target (b) p99 while logins run <= 2x idle: saturating %s (%.2fx), moderate rate %s "
          "(%.2fx)" % ("MET" if sat_ratio <= 2 else "NOT MET", sat_ratio,
                       "MET" if rate_ratio <= 2 else "NOT MET", rate_ratio))
    p("=" * 86)
    print("\n".join(out))


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: bench_sessions_summary.py RESULTS_DIR")
    main(sys.argv[1])
