#!/usr/bin/env python3
"""bench_tokens_summary.py — the report of one bench/bench_tokens.sh run (stdlib only).

Input directory (written by bench_tokens.sh):
  meta.txt            key=value lines (parameters, versions)
  rounds.tsv          round, variant, wrk file, proxy/redis/upstream CPU ticks, proxy core
                      busy/total ticks, load core busy/total ticks (one line per wrk run)
  grants.tsv, reject.tsv, flood.tsv   the same columns for the grant, rejection and flood
                      phases; flood runs have FILE.flood (token_tools.py flood output)
  strace-VARIANT.txt/.wrk   strace -c -f over a fixed wrk run
  perf-VARIANT.share  token_tools.py perfshare output; perf-VARIANT.self.txt (perf report)
"""
import os
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bench_summary import median, parse_strace, parse_wrk, read  # noqa: E402

CLEAN_SHARE = 0.9
LABEL = {
    "nginx": "(a) nginx plain proxy",
    "haproxy": "(b) HAProxy jwt_verify ES256",
    "bearer": "(c) onegate bearer (cached)",
    "session": "(d) onegate session+JWT",
    "public": "onegate public route",
    "sessnoaud": "onegate session, no JWT",
}
TARGETS = {"bearer": 0.9, "session": 0.85}


def load(res, name, clk, duration):
    """Rows of <name>.tsv with parsed wrk figures and CPU per request."""
    out = []
    path = os.path.join(res, name)
    if not os.path.exists(path):
        return out
    for line in read(path).splitlines():
        f = line.split("\t")
        if len(f) < 10:
            continue
        w = parse_wrk(read(f[2]))
        w["round"], w["label"], w["file"] = int(f[0]), f[1], f[2]
        pt, rt, ut, pb, ptot, lb, ltot = (int(x) for x in f[3:10])
        n = w["requests"]
        w["cpu_us"] = pt / clk * 1e6 / n if n else float("nan")
        w["redis_us"] = rt / clk * 1e6 / n if n else float("nan")
        w["up_us"] = ut / clk * 1e6 / n if n else float("nan")
        w["cpu_util"] = pt / clk / duration
        w["proxy_core"] = pb / ptot if ptot else float("nan")
        w["load_core"] = lb / ltot if ltot else float("nan")
        w["share"] = w["cpu_util"] / w["proxy_core"] if w["proxy_core"] else float("nan")
        w["clean"] = not (w["share"] < CLEAN_SHARE)
        fl = f[2] + ".flood"
        if os.path.exists(fl):
            w["flood"] = dict(kv.split("=", 1) for kv in read(fl).split() if "=" in kv)
        out.append(w)
    return out


def fnum(x, fmt="%.0f"):
    return fmt % x if x == x else "n/a"


def main(res):
    meta = {}
    for line in read(os.path.join(res, "meta.txt")).splitlines():
        if "=" in line:
            k, v = line.split("=", 1)
            meta[k] = v
    clk = float(meta.get("clk_tck", "100"))
    dur = float(meta.get("duration", "5"))
    variants = meta.get("variants", "").split()
    rows = load(res, "rounds.tsv", clk, dur)
    by = {v: {w["round"]: w for w in rows if w["label"] == v} for v in variants}
    nrounds = max((w["round"] for w in rows), default=0)
    out = []
    p = out.append

    p("Per round (wrk -t1 -c%s -d%ss; order rotated each round). CPU%%: the proxy's use of its"
      % (meta.get("conns"), meta.get("duration")))
    p("core; core%/load%: how busy the proxy core / load core were (all processes). '*': the")
    p("proxy had < %d%% of its core's busy time (other processes ran there): not clean."
      % (100 * CLEAN_SHARE))
    p("  %-5s %-10s %9s %7s %7s %8s %5s %5s %5s %7s %6s" % (
        "round", "variant", "req/s", "p50 us", "p99 us", "CPU us/r", "CPU%", "core%", "load%",
        "redis/r", "errors"))
    for r in range(1, nrounds + 1):
        for v in variants:
            w = by[v].get(r)
            if not w:
                continue
            p("  %-5d %-10s %9.0f %7.0f %7.0f %8.1f %4.0f%%%s%4.0f%% %4.0f%% %7.1f %6d" % (
                r, v, w["rps"], w["p50"], w["p99"], w["cpu_us"], 100 * w["cpu_util"],
                " " if w["clean"] else "*", 100 * w["proxy_core"], 100 * w["load_core"],
                w["redis_us"], w["errors"] + w["non2xx"]))
    clean_rounds = [r for r in range(1, nrounds + 1)
                    if all(r in by[v] and by[v][r]["clean"] for v in variants)]
    use_clean = len(clean_rounds) >= 3
    sel = clean_rounds if use_clean else list(range(1, nrounds + 1))

    def med(v, key, rounds=None):
        return median([by[v][r][key] for r in (rounds or sel) if r in by[v]])

    def paired(v, base, key, op, rounds=None):
        xs = []
        for r in rounds or sel:
            if r in by[v] and r in by[base]:
                a, b = by[v][r][key], by[base][r][key]
                xs.append(a / b if op == "/" and b else a - b)
        return median(xs), xs

    p("")
    p("=" * 86)
    p("SUMMARY  tokens on the request path — %s" % meta.get("date", ""))
    p("=" * 86)
    p("Setup: %s rounds x %ss, wrk -t1 -c%s, GET .../status?code=200 (%s-byte body), loopback;"
      % (meta.get("rounds"), meta.get("duration"), meta.get("conns"), meta.get("body_bytes")))
    p("  bearer header %s bytes on (a) (b) (c) (padding header of that size on 'public')."
      % meta.get("bearer_header_bytes"))
    p("CPUs: proxy on CPU %s; wrk, upstream, redis, flood client on CPU %s. %s."
      % (meta.get("proxy_cpu"), meta.get("load_cpu"), meta.get("versions", "")))
    p("Load average at start / end: %s / %s." % (meta.get("loadavg_start"),
                                                 meta.get("loadavg_end")))
    if use_clean:
        p("Medians over the %d clean rounds (%s) of %d (every variant had >= %d%% of its core)."
          % (len(clean_rounds), " ".join(map(str, clean_rounds)), nrounds, 100 * CLEAN_SHARE))
    else:
        p("Only %d clean rounds (< 3): medians over ALL %d rounds; other processes took the "
          "proxy's core, timings are unreliable." % (len(clean_rounds), nrounds))
    p("")
    p("| variant                       |   req/s | p50 us | p99 us | CPU us/req | req/s vs (a): "
      "ratio of medians | median per-round ratio | capacity vs (a) |")
    p("|-------------------------------|---------|--------|--------|------------|--------------"
      "-----------------|------------------------|-----------------|")
    base = "nginx" if "nginx" in variants else None
    for v in variants:
        rps = med(v, "rps")
        rm = rps / med(base, "rps") if base else float("nan")
        pr, _ = paired(v, base, "rps", "/") if base else (float("nan"), [])
        cap = med(base, "cpu_us") / med(v, "cpu_us") if base else float("nan")
        p("| %-29s | %7s | %6s | %6s | %10s | %29s | %22s | %15s |" % (
            LABEL.get(v, v), fnum(rps), fnum(med(v, "p50")), fnum(med(v, "p99")),
            fnum(med(v, "cpu_us"), "%.1f"), fnum(rm, "%.2fx"), fnum(pr, "%.2fx"),
            fnum(cap, "%.2fx")))
    p("capacity vs (a): nginx's CPU us/request / the variant's = requests per second of one")
    p("core at saturation relative to nginx; req/s also depends on the load core (wrk, upstream,")
    p("redis), which is saturated when load% is ~100%.")
    p("")
    for v, tgt in TARGETS.items():
        if v in variants and base:
            pr, xs = paired(v, base, "rps", "/")
            rm = med(v, "rps") / med(base, "rps")
            p("target %-34s %s (median per-round ratio %.2fx, ratio of medians %.2fx; rounds: %s)"
              % ("%s >= %.2fx nginx req/s" % (v, tgt), "MET" if pr >= tgt else "NOT MET", pr,
                 rm, " ".join("%.2f" % x for x in xs)))
    if "haproxy" in variants and base:
        pr, _ = paired("haproxy", base, "rps", "/")
        p("HAProxy (ES256 check per request) reaches %.2fx nginx; onegate bearer / HAProxy: %.1fx"
          % (pr, paired("bearer", "haproxy", "rps", "/")[0] if "bearer" in variants else 0))

    # ---- token work per cached request: CPU and system calls -----------------------------
    p("")
    p("Token work per cached request (CPU us/request of the onegate process, same rounds):")
    for v, b, what in (("bearer", "public", "verification (cache hit) + API policy"),
                       ("session", "sessnoaud", "minted-token reuse + forwarding it"),
                       ("session", "public", "session lookup + policy + JWT")):
        if v in variants and b in variants:
            d, xs = paired(v, b, "cpu_us", "-")
            p("  %-8s - %-9s = %+5.1f us  (%s; per round: %s)" % (
                v, b, d, what, " ".join("%+.1f" % x for x in xs)))
    shares = {}
    for v in ("bearer", "session"):
        sp = os.path.join(res, "perf-%s.share" % v)
        if os.path.exists(sp) and v in variants:
            kv = dict(x.split("=", 1) for x in read(sp).split() if "=" in x)
            shares[v] = kv
            share = float(kv.get("share", "nan"))
            p("  perf: %-8s %5.2f%% of onegate's samples in token code (%s of %s samples)"
              " x %.1f us/req = %.2f us per request; %s of them in the kernel" % (
                  v, 100 * share, kv.get("token_samples"), kv.get("samples"),
                  med(v, "cpu_us"), share * med(v, "cpu_us"), kv.get("kernel_samples", "?")))
            p("        entries %s" % kv.get("entries", ""))
            p("        by callee (samples): %s" % kv.get("calls", "").replace(";", ", "))
            p("        top leaf functions: %s" % kv.get("top", "").replace(";", ", "))
    sc = {}
    for v in variants:
        sp, wp = (os.path.join(res, "strace-%s.%s" % (v, e)) for e in ("txt", "wrk"))
        if os.path.exists(sp) and os.path.exists(wp):
            calls, total = parse_strace(read(sp))
            cp = os.path.join(res, "strace-%s.count" % v)
            if os.path.exists(cp):      # onegate's own counter over the traced window
                n, how = int(read(cp).split("=", 1)[1]), "window"
            else:
                n, how = parse_wrk(read(wp))["requests"], "whole run"
            if n > 0:
                sc[v] = (calls, total / n, n, how)
    if sc:
        p("")
        p("System calls per request (strace -c -f; 'window': traced inside a running load,")
        p("divided by onegate's request counter; 'whole run': incl. connection set-up):")
        for v in variants:
            if v in sc:
                calls, per, n, how = sc[v]
                top = sorted(calls.items(), key=lambda kv: -kv[1])[:6]
                p("  %-10s %5.2f = %s  (%d requests, %s)" % (
                    v, per, " + ".join("%s %.2f" % (k, c / n) for k, c in top), n, how))
        for v, b in (("bearer", "public"), ("session", "sessnoaud")):
            if v in sc and b in sc:
                p("  %s - %s: %+.2f system calls per request" % (v, b, sc[v][1] - sc[b][1]))
    # "No system call added": no kind of call the baseline does not make, the per-request
    # difference within the strace noise (+-0.15: read/write batching varies run to run),
    # and no perf sample of the token code inside the kernel.
    checks = []
    for v, b, name in (("bearer", "public", "bearer adds no system call"),
                       ("session", "sessnoaud", "JWT reuse adds no system call")):
        if v in sc and b in sc:
            new = sorted(set(sc[v][0]) - set(sc[b][0]))
            d = sc[v][1] - sc[b][1]
            ks = shares.get(v, {}).get("kernel_samples")
            ok = not new and d < 0.15 and ks in (None, "0")
            checks.append((name, ok, "%+.2f/req%s; perf: %s token samples in the kernel" % (
                d, "; new calls: " + ",".join(new) if new else "", ks if ks else "n/a")))
    for v in ("bearer", "session"):
        if v in shares:
            us = float(shares[v].get("share", "nan")) * med(v, "cpu_us")
            checks.append(("%s token code < 3 us CPU" % v, us < 3.0, "%.2f us (perf)" % us))
    for name, ok, val in checks:
        p("target %-34s %s (%s)" % (name, "MET" if ok else "NOT MET", val))

    # ---- grants ------------------------------------------------------------------------------
    g = load(res, "grants.tsv", clk, dur)
    if g:
        wt = int(meta.get("work_threads", "1") or 1)
        p("")
        p("Client-credentials grants (wrk -c%s POST /oauth/token, HTTP Basic; onegate pinned "
          "to one core, %d work threads):" % (meta.get("grant_conns"), wt))
        for w in g:
            per_core = w["requests"] / (w["cpu_util"] * dur) if w["cpu_util"] else float("nan")
            w["per_core"] = per_core
            p("  round %d: %6.0f grants/s, p50 %s us, p99 %s us, onegate %.0f%% of a core, "
              "%.0f us CPU/grant -> %.0f grants per core-second; redis %.0f us/grant; "
              "errors %d%s" % (w["round"], w["rps"], fnum(w["p50"]), fnum(w["p99"]),
                               100 * w["cpu_util"], w["cpu_us"], per_core, w["redis_us"],
                               w["errors"] + w["non2xx"], "" if w["clean"] else " *"))
        rps = median([w["rps"] for w in g])
        p("  median: %.0f grants/s = %.0f per work thread; %.0f grants per onegate core-second"
          % (rps, rps / wt, median([w["per_core"] for w in g])))
        checks_g = median([w["per_core"] for w in g])
        p("target %-34s %s (%.0f per core-second)" % ("grants >= 500 per core",
                                                      "MET" if checks_g >= 500 else "NOT MET",
                                                      checks_g))

    # ---- rejected tokens ---------------------------------------------------------------------
    rj = load(res, "reject.tsv", clk, dur)
    if rj:
        p("")
        p("Rejected well-formed tokens with bad signatures (distinct tokens, wrk -c%s):"
          % meta.get("conns"))
        for kind, what in (("nb", "signature checked, 401 (onegate-nb: no budget, no cap)"),
                           ("throttled", "over the per-address budget, 429 (default budget)"),
                           ("cap", "no per-address budget, the signature cap at its default "
                            "(%s/s): mostly 429" % meta.get("sig_cap", "?"))):
            ws = [w for w in rj if w["label"] == kind]
            if ws:
                p("  %-9s %s" % (kind, what))
                p("            %s req/s; CPU us per request %s (median %.1f); onegate %.0f%% "
                  "of its core" % (" ".join(fnum(w["rps"]) for w in ws),
                                   " ".join(fnum(w["cpu_us"], "%.1f") for w in ws),
                                   median([w["cpu_us"] for w in ws]),
                                   100 * median([w["cpu_util"] for w in ws])))

        pr = os.path.join(res, "perf-reject.self.txt")
        if os.path.exists(pr):
            top = []
            for line in read(pr).splitlines():
                m = re.match(r"^\s+([0-9.]+)%\s+(\S+)\s+\[.\]\s+(\S+)", line)
                if m:
                    top.append("%s %s%% (%s)" % (m.group(3), m.group(1), m.group(2)))
            if top:
                p("  where a rejected token's CPU goes (perf, self time): " + "; ".join(top[:10]))
        pd = os.path.join(res, "perf-reject.dso.txt")
        if os.path.exists(pd):
            dsos = re.findall(r"^\s+([0-9.]+)%\s+(\S+)\s*$", read(pd), re.M)
            if dsos:
                p("  by library: " + ", ".join("%s %s%%" % (d, v) for v, d in dsos[:8]))

    # ---- flood -------------------------------------------------------------------------------
    fl = load(res, "flood.tsv", clk, float(meta.get("flood_duration", dur)))
    if fl:
        p("")
        p("Ordinary bearer traffic (wrk -c%s, %s ms pause per request) idle and during a flood of"
          " distinct bad-signature tokens (token_tools.py flood, %s connections, %s req/s):"
          % (meta.get("rate_conns"), meta.get("rate_delay_ms"), meta.get("flood_conns"),
             meta.get("flood_rate")))
        modes = (("idle", "no flood", None),
                 ("ctl", "control: valid cached token at the flood rate", "idle"),
                 ("one", "flood from 1 other address, default budget", "idle"),
                 ("many", "flood from %s addresses, default budget each"
                  % meta.get("flood_sources"), "idle"),
                 ("idle-cap", "no flood (onegate-cap)", None),
                 ("cap", "flood, no per-address budget, cap %s/s"
                  % meta.get("sig_cap", "?"), "idle-cap"),
                 ("idle-nb", "no flood (onegate-nb)", None),
                 ("nb", "flood, no budget and no cap (onegate-nb)", "idle-nb"))
        p("  %-8s %-46s %7s %7s %7s %6s %9s %s" % ("mode", "", "req/s", "p50 us", "p99 us",
                                                  "CPU%", "flood/s", "flood answers"))
        medp99 = {}
        for mode, what, _ in modes:
            ws = [w for w in fl if w["label"] == mode]
            if not ws:
                continue
            medp99[mode] = median([w["p99"] for w in ws])
            fr = [float(w["flood"].get("rate", "nan")) for w in ws if "flood" in w]
            ans = {}
            for w in ws:
                for k, v in w.get("flood", {}).items():
                    if k.startswith("status_"):
                        ans[k[7:]] = ans.get(k[7:], 0) + int(v)
            errs = sum(w["errors"] + w["non2xx"] for w in ws)
            p("  %-8s %-46s %7.0f %7.0f %7.0f %5.0f%% %9s %s%s" % (
                mode, what, median([w["rps"] for w in ws]), median([w["p50"] for w in ws]),
                medp99[mode], 100 * median([w["cpu_util"] for w in ws]),
                fnum(median(fr)) if fr else "-",
                " ".join("%s:%d" % kv for kv in sorted(ans.items())) or "-",
                "  ORDINARY ERRORS %d" % errs if errs else ""))
        p("  p99 per round: " + "; ".join(
            "%s %s" % (m, " ".join(fnum(w["p99"]) for w in fl if w["label"] == m))
            for m, _, _ in modes if any(w["label"] == m for w in fl)))
        for mode, what, idle in modes:
            if idle and mode in medp99 and idle in medp99:
                ratio = medp99[mode] / medp99[idle]
                vs_ctl = ""
                if mode in ("one", "many") and "ctl" in medp99:
                    vs_ctl = "; vs the control's p99: %.2fx" % (medp99[mode] / medp99["ctl"])
                p("target %-34s %s (%.2fx: %.0f vs %.0f us%s)" % (
                    "p99 <= 2x idle, flood '%s'" % mode, "MET" if ratio <= 2.0 else "NOT MET",
                    ratio, medp99[mode], medp99[idle], vs_ctl))
    p("=" * 86)
    print("\n".join(out))


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: bench_tokens_summary.py RESULTS_DIR")
    main(sys.argv[1])
