#!/usr/bin/env python3
"""tests/e2e/test_observability.py — what onegate tells its operators: /-/live and /-/ready,
Prometheus metrics after known traffic (requests by route and status class, an upstream latency
histogram, open connections, bytes in and out), and one JSON access-log line per request with
the documented fields and without any Cookie or Authorization value."""

import os
import sys
import time
import uuid

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as h  # noqa: E402

SECRET_COOKIE = "SECRETCOOKIE-4f1d2c"
SECRET_TOKEN = "SECRETTOKEN-9a8b7c"
SECRET_PASS = "c2VjcmV0OnBhc3N3b3Jk"  # base64 "secret:password"


def find_key(d, *candidates):
    """The value of the first key of <d> (a dict, searched one level of nesting deep too) whose
    name is in <candidates>; None when absent."""
    for c in candidates:
        if c in d:
            return d[c]
    for v in d.values():
        if isinstance(v, dict):
            r = find_key(v, *candidates)
            if r is not None:
                return r
    return None


def flatten(d, prefix=""):
    out = {}
    for k, v in d.items():
        if isinstance(v, dict):
            out.update(flatten(v, prefix + k + "."))
        else:
            out[prefix + k] = v
    return out


class Observability(h.E2ECase):
    @classmethod
    def setUpEnv(cls, env):
        cls.op = env.portal("Operator portal")
        cfg = env.onegate_config(workers=2)
        cfg.upstream("operator", [cls.op.addr])
        cfg.route("/operator/", "operator")
        cls.og = env.onegate(cfg)
        cls.port = cls.og.port

    def metrics(self):
        r = h.request(self.port, "GET", "/-/metrics")
        self.assertEqual(r.status, 200)
        self.assertIn("text/plain", r.header("Content-Type") or "")
        return h.parse_prometheus(r.text()), r.text()

    def test_live_and_ready(self):
        for path in ("/-/live", "/-/ready"):
            r = h.request(self.port, "GET", path)
            self.assertEqual(r.status, 200, path)
            self.assertIsNone(r.header("X-Demo-Portal"), "%s answered by onegate itself" % path)
        # builtin paths are reserved even with a catch-all route in front of them
        cfg = self.env.onegate_config(workers=1)
        cfg.upstream("operator", [self.op.addr])
        cfg.route("/", "operator")
        og = self.env.onegate(cfg)
        try:
            r = h.request(og.port, "GET", "/-/live")
            self.assertEqual(r.status, 200)
            self.assertIsNone(r.header("X-Demo-Portal"))
            self.assertEqual(h.request(og.port, "GET", "/operator/echo").status, 200)
        finally:
            og.proc.stop()

    def test_metrics_after_traffic(self):
        before, _ = self.metrics()
        for _ in range(3):
            self.assertEqual(h.request(self.port, "GET", "/operator/echo").status, 200)
        for _ in range(2):
            self.assertEqual(h.request(self.port, "GET", "/operator/status?code=404").status, 404)
        self.assertEqual(h.request(self.port, "GET", "/operator/status?code=503").status, 503)
        self.assertEqual(h.request(self.port, "GET", "/nowhere").status, 404)
        samples, text = self.metrics()

        def total(samples, cls):
            # sum of samples carrying a status-class label value and an "operator" label value
            s = 0.0
            for name, labels, v in samples:
                if name.endswith(("_bucket", "_sum", "_count")):
                    continue
                vals = [x.lower() for x in labels.values()]
                if cls in vals and any("operator" in x for x in vals):
                    s += v
            return s
        for cls, n in (("2xx", 3), ("4xx", 2), ("5xx", 1)):
            got = total(samples, cls) - total(before, cls)
            self.assertGreaterEqual(got, n, "requests by route and status class %s: +%s\n%s"
                                    % (cls, got, text))

        # an upstream latency histogram: buckets with le, monotonic, +Inf == _count
        hist = {}
        for name, labels, v in samples:
            if name.endswith("_bucket") and "le" in labels:
                key = (name[:-len("_bucket")], tuple(sorted((k, x) for k, x in labels.items()
                                                            if k != "le")))
                hist.setdefault(key, []).append((labels["le"], v))
        self.assertTrue(hist, "no histogram in /-/metrics:\n" + text)
        counts = {(n, tuple(sorted(lab.items()))): v for n, lab, v in samples
                  if n.endswith("_count")}
        found_upstream = False
        for (base, labs), buckets in hist.items():
            les = [(float("inf") if le == "+Inf" else float(le), v) for le, v in buckets]
            les.sort()
            vals = [v for _, v in les]
            self.assertEqual(vals, sorted(vals), "%s buckets not cumulative" % base)
            self.assertEqual(les[-1][0], float("inf"), "%s has no +Inf bucket" % base)
            c = counts.get((base + "_count", labs))
            self.assertIsNotNone(c, "%s_count missing" % base)
            self.assertEqual(c, les[-1][1], "%s: +Inf bucket != _count" % base)
            if "upstream" in base and les[-1][1] >= 6:
                found_upstream = True
        self.assertTrue(found_upstream, "no upstream latency histogram counting the requests:\n"
                        + text)

    def conn_gauges(self):
        samples, _ = self.metrics()
        return {(n, tuple(sorted(l.items()))): v for n, l, v in samples
                if "conn" in n and not n.endswith(("_total", "_bucket", "_sum", "_count"))}

    def test_metrics_open_connections(self):
        base = self.conn_gauges()
        self.assertTrue(base, "no connection gauge in /-/metrics")
        held = [h.Conn(self.port) for _ in range(4)]
        try:
            for c in held:
                self.assertEqual(c.request("GET", "/operator/echo").status, 200)

            def grew():
                now = self.conn_gauges()
                return any(now.get(k, 0) - v >= 4 for k, v in base.items())
            h.wait_for(grew, 5 * h.SLACK, what="open-connection gauge +4")
        finally:
            for c in held:
                c.close()

        def shrank():
            now = self.conn_gauges()
            return any(now.get(k, 0) <= v for k, v in base.items())
        h.wait_for(shrank, 5 * h.SLACK, what="open-connection gauge back down")

    def test_metrics_bytes(self):
        def byte_counters():
            samples, _ = self.metrics()
            out = {}
            for n, l, v in samples:
                if "bytes" in n and not n.endswith(("_bucket", "_sum", "_count")):
                    k = (n, tuple(sorted(l.items())))
                    out[k] = out.get(k, 0) + v
            return out
        before = byte_counters()
        self.assertTrue(before, "no byte counters in /-/metrics")
        self.assertEqual(h.request(self.port, "POST", "/operator/upload",
                                   body=b"u" * 300000).status, 200)
        self.assertEqual(h.request(self.port, "GET", "/operator/download?bytes=500000").status, 200)
        after = byte_counters()
        deltas = sorted((after.get(k, 0) - before.get(k, 0), k[0]) for k in after)
        # bytes in (>= the 300000 uploaded) and bytes out (>= the 500000 downloaded)
        self.assertTrue(any(d >= 300000 and ("in" in n or "received" in n or "rx" in n
                                              or "request" in n) for d, n in deltas), deltas)
        self.assertTrue(any(d >= 500000 and ("out" in n or "sent" in n or "tx" in n
                                              or "response" in n) for d, n in deltas), deltas)

    def test_access_log_lines(self):
        marker = uuid.uuid4().hex[:12]
        path = "/operator/obs-%s/echo" % marker
        r = h.request(self.port, "POST", path, body=b"b" * 1234, headers=[
            ("Cookie", "og_session=%s; other=1" % SECRET_COOKIE),
            ("Authorization", "Bearer %s" % SECRET_TOKEN),
            ("Proxy-Authorization", "Basic %s" % SECRET_PASS)])
        self.assertEqual(r.status, 200)
        rid = h.echo_header(r.json(), "X-Request-Id")
        self.assertTrue(rid)
        nf = h.request(self.port, "GET", "/nowhere-%s" % marker)
        self.assertEqual(nf.status, 404)
        nf_rid = nf.header("X-Request-Id")

        def lines_with(value):
            return [ln for ln in self.og.access_lines() if value in flatten(ln).values()]
        entries = h.wait_for(lambda: lines_with(rid), 10 * h.SLACK,
                             what="access-log line with request id %s" % rid)
        self.assertEqual(len(entries), 1, "one access-log line per request")
        e = entries[0]
        flat = flatten(e)
        keys = " ".join(flat).lower()
        self.assertTrue(find_key(e, "time", "ts", "timestamp", "@timestamp"), e)
        self.assertIn("127.0.0.1", [str(v) for v in flat.values()], "client address: %r" % e)
        self.assertIn(200, flat.values(), "status: %r" % e)
        self.assertTrue(any(isinstance(v, str) and marker in v for v in flat.values()),
                        "path: %r" % e)
        self.assertTrue("route" in keys or "/operator/" in flat.values(), "route: %r" % e)
        self.assertTrue(any(isinstance(v, str) and (v == "operator" or self.op.addr in v)
                            for v in flat.values()), "upstream: %r" % e)
        self.assertIn("bytes", keys, "byte counts: %r" % e)
        self.assertTrue(any(isinstance(v, int) and v >= 1234 for k, v in flat.items()
                            if "bytes" in k.lower()), "bytes in >= body: %r" % e)
        self.assertTrue(any(("ms" in k.lower() or "dur" in k.lower() or "time" in k.lower())
                            and isinstance(v, (int, float)) and not isinstance(v, bool)
                            for k, v in flat.items()), "durations: %r" % e)
        if nf_rid:
            nf_lines = h.wait_for(lambda: lines_with(nf_rid), 10 * h.SLACK,
                                  what="access-log line of the 404")
            self.assertIn(404, flatten(nf_lines[0]).values())

        # no secret anywhere in anything onegate wrote
        time.sleep(0.2)
        for fn in os.listdir(self.env.dir):
            if fn.startswith(("og", "onegate")):
                with open(os.path.join(self.env.dir, fn), "rb") as f:
                    data = f.read()
                for secret in (SECRET_COOKIE, SECRET_TOKEN, SECRET_PASS):
                    self.assertNotIn(secret.encode(), data, "%s leaked into %s" % (secret, fn))

    def test_access_log_off(self):
        cfg = self.env.onegate_config(workers=1)
        cfg.log(access_log=h.Raw("off"))
        cfg.upstream("operator", [self.op.addr])
        cfg.route("/operator/", "operator")
        og = self.env.onegate(cfg)
        try:
            for _ in range(3):
                self.assertEqual(h.request(og.port, "GET", "/operator/echo").status, 200)
            time.sleep(0.5)
            self.assertEqual(og.access_lines(), [], "access_log: off still logs")
            self.assertFalse(os.path.exists(os.path.join(self.env.dir, "off")))
        finally:
            og.proc.stop()


if __name__ == "__main__":
    h.main()
