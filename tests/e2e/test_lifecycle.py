#!/usr/bin/env python3
"""tests/e2e/test_lifecycle.py — the onegate process from the outside: --version, --help,
--check-config (good: exit 0; bad: exit 1 with file:line:column), refusing to start on a bad
config, SIGHUP reload under continuous load with zero failed requests (new route effective, bad
file keeps the old config and is logged), and SIGTERM drain (in-flight requests complete, new
connections refused, exit 0)."""

import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as h  # noqa: E402

OPERATOR = "Operator portal"
SSP = "Self-Service Portal"


def run_onegate(*args, timeout=30):
    return subprocess.run([h.ONEGATE_BIN] + list(args), stdin=subprocess.DEVNULL,
                          capture_output=True, timeout=timeout * h.SLACK, cwd=h.SOURCE_DIR)


class Commands(h.E2ECase):
    @classmethod
    def setUpEnv(cls, env):
        if not os.path.exists(h.ONEGATE_BIN):
            raise AssertionError("onegate not built: %s (set ONEGATE_BUILD_DIR)" % h.ONEGATE_BIN)

    def write(self, name, text):
        path = os.path.join(self.env.dir, name)
        with open(path, "w") as f:
            f.write(text)
        return path

    def test_version(self):
        p = run_onegate("--version")
        self.assertEqual(p.returncode, 0, p.stderr)
        out = (p.stdout + p.stderr).decode()
        self.assertIn("onegate", out.lower())
        self.assertRegex(out, r"\d+\.\d+")

    def test_help(self):
        p = run_onegate("--help")
        self.assertEqual(p.returncode, 0, p.stderr)
        out = (p.stdout + p.stderr).decode()
        for opt in ("--check-config", "--version", "--help"):
            self.assertIn(opt, out)

    def test_unknown_option_fails(self):
        p = run_onegate("--no-such-option")
        self.assertNotEqual(p.returncode, 0)

    def test_check_config_good(self):
        p = run_onegate("--check-config", os.path.join(h.SOURCE_DIR, "deploy",
                                                       "onegate.example.yaml"))
        self.assertEqual(p.returncode, 0, "example config rejected: %s" % p.stderr.decode())
        cfg = self.env.onegate_config()
        cfg.upstream("operator", ["127.0.0.1:9"])
        cfg.route("/operator/", "operator")
        path = self.env.write_config(cfg)
        p = run_onegate("--check-config", path)
        self.assertEqual(p.returncode, 0, p.stderr.decode())

    def check_bad(self, name, text, line, col=None):
        path = self.write(name, text)
        p = run_onegate("--check-config", path)
        err = p.stderr.decode()
        self.assertEqual(p.returncode, 1, "%s: exit %d, stderr %r" % (name, p.returncode, err))
        lines = line if isinstance(line, tuple) else (line,)
        pat = re.escape(path) + ":(%s):%s" % ("|".join(str(x) for x in lines),
                                             str(col) if col else r"\d+")
        self.assertRegex(err, pat, "%s: stderr lacks file:line:column" % name)
        return err

    def test_check_config_bad(self):
        base = "workers: 1\nlisten:\n  - 127.0.0.1:18080\n"
        ups = ("upstreams:\n  operator:\n    servers: [127.0.0.1:9101]\n"
               "routes:\n  - path: /operator/\n    upstream: operator\n")
        self.check_bad("unknown_top.yaml", base + "bogus_key: 3\n" + ups, 4, 1)
        self.check_bad("unknown_nested.yaml",
                       base + "limits:\n  max_headers: 10\n  no_such_limit: 5\n" + ups, 6, 3)
        self.check_bad("wrong_type.yaml", base + "limits:\n  max_headers: lots\n" + ups, 5)
        self.check_bad("unknown_upstream.yaml",
                       base + ups + "  - path: /x/\n    upstream: nowhere\n", (10, 11))
        self.check_bad("bad_address.yaml",
                       "workers: 1\nlisten:\n  - not-an-address\n" + ups, 3)
        self.check_bad("syntax.yaml", base + "limits: [unclosed\n" + ups, (4, 5, 6))

    def test_check_config_missing_file(self):
        p = run_onegate("--check-config", os.path.join(self.env.dir, "missing.yaml"))
        self.assertEqual(p.returncode, 1)
        self.assertIn("missing.yaml", p.stderr.decode())

    def test_refuses_to_start_on_bad_config(self):
        port = h.free_port()
        path = self.write("bad_start.yaml", "workers: 1\nlisten:\n  - 127.0.0.1:%d\n"
                          "limits:\n  max_headers: lots\n" % port)
        proc = self.env.start("bad-onegate", h.onegate_run_argv(path))
        code = proc.wait(15 * h.SLACK)
        self.assertIsNotNone(code, "onegate kept running on a bad config")
        self.assertNotEqual(code, 0)
        self.assertRegex(proc.stderr(), re.escape(path) + r":5:\d+")
        self.assertFalse(h.port_open(port))


class Load:
    """Threads making requests continuously (keep-alive, reconnecting every few requests) and
    counting every failure."""

    def __init__(self, port, path, nthreads=4):
        self.port = port
        self.path = path
        self.ok = 0
        self.failures = []
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._threads = [threading.Thread(target=self._run, args=(i,), daemon=True)
                         for i in range(nthreads)]

    def _run(self, i):
        n = 0
        while not self._stop.is_set():
            try:
                with h.Conn(self.port, timeout=10) as c:
                    for _ in range(1 + (i % 3) * 10):  # 1, 11, 21 requests per connection
                        if self._stop.is_set():
                            break
                        r = c.request("GET", self.path + "?t=%d&n=%d" % (i, n))
                        n += 1
                        if r.status != 200 or r.json()["portal"] != OPERATOR:
                            raise AssertionError("got %r" % r)
                        with self._lock:
                            self.ok += 1
            except Exception as e:  # noqa: BLE001
                with self._lock:
                    self.failures.append("thread %d request %d: %r" % (i, n, e))

    def __enter__(self):
        for t in self._threads:
            t.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        for t in self._threads:
            t.join(30)
        return False


class Reload(h.E2ECase):
    @classmethod
    def setUpEnv(cls, env):
        cls.op = env.portal(OPERATOR)
        cls.ssp = env.portal(SSP)
        cfg = env.onegate_config(workers=2)
        cfg.upstream("operator", [cls.op.addr])
        cfg.route("/operator/", "operator")
        cls.og = env.onegate(cfg)
        cls.port = cls.og.port

    def config(self, with_ssp):
        cfg = h.OnegateConfig(self.port, workers=2)
        cfg.data["log"] = dict(self.og.config.data["log"])
        cfg.upstream("operator", [self.op.addr])
        cfg.route("/operator/", "operator")
        if with_ssp:
            cfg.upstream("ssp", [self.ssp.addr])
            cfg.route("/ssp/", "ssp")
        return cfg

    def ssp_status(self):
        return h.request(self.port, "GET", "/ssp/echo").status

    def test_1_reload_under_load(self):
        self.assertEqual(self.ssp_status(), 404)
        keeper = h.Conn(self.port)  # a keep-alive connection idle across the reloads
        self.assertEqual(keeper.request("GET", "/operator/echo").status, 200)
        try:
            with Load(self.port, "/operator/echo") as load:
                h.wait_for(lambda: load.ok >= 50, 20 * h.SLACK, what="load running")
                self.og.reload(self.config(with_ssp=True))
                h.wait_for(lambda: self.ssp_status() == 200, 10 * h.SLACK,
                           what="new /ssp/ route after SIGHUP")
                r = h.request(self.port, "GET", "/ssp/echo")
                self.assertEqual(r.json()["portal"], SSP)
                # a few more reloads back and forth, still under load
                for i in range(4):
                    n = load.ok
                    self.og.reload(self.config(with_ssp=(i % 2 == 1)))
                    h.wait_for(lambda: load.ok >= n + 20, 20 * h.SLACK, what="load after reload")
                want = 200
                h.wait_for(lambda: self.ssp_status() == want, 10 * h.SLACK, what="final config")
                n = load.ok
                h.wait_for(lambda: load.ok >= n + 50, 20 * h.SLACK, what="load after reloads")
            self.assertEqual(load.failures, [], "requests failed across SIGHUP reloads")
            self.assertGreater(load.ok, 100)
            self.assertTrue(self.og.proc.alive())
            r = keeper.request("GET", "/operator/echo")
            self.assertEqual(r.status, 200, "an idle keep-alive connection survives reloads")
        finally:
            keeper.close()

    def test_2_bad_reload_keeps_old_config(self):
        good = self.config(with_ssp=True)
        self.og.reload(good)
        h.wait_for(lambda: self.ssp_status() == 200, 10 * h.SLACK, what="good config")
        log_before = len(self.og.error_log_text())
        with open(self.og.config_path, "w") as f:
            f.write("workers: 2\nlisten:\n  - 127.0.0.1:%d\nlimits:\n  max_headers: lots\n"
                    % self.port)
        with Load(self.port, "/operator/echo", nthreads=2) as load:
            h.wait_for(lambda: load.ok >= 20, 20 * h.SLACK, what="load running")
            self.og.reload()

            def logged():
                new = self.og.error_log_text()[log_before:]
                return re.search(re.escape(self.og.config_path) + r":5:\d+", new)
            h.wait_for(logged, 10 * h.SLACK, what="reload error with file:line:column logged")
            n = load.ok
            h.wait_for(lambda: load.ok >= n + 20, 20 * h.SLACK, what="load after bad reload")
        self.assertEqual(load.failures, [])
        self.assertTrue(self.og.proc.alive(), "a bad reload must not stop onegate")
        self.assertEqual(self.ssp_status(), 200, "the old config (with /ssp/) still serves")
        r = h.request(self.port, "GET", "/operator/echo")
        self.assertEqual(r.status, 200)
        # and a later good file is picked up again
        self.og.reload(self.config(with_ssp=False))
        h.wait_for(lambda: self.ssp_status() == 404, 10 * h.SLACK, what="good config again")


class Drain(h.E2ECase):
    @classmethod
    def setUpEnv(cls, env):
        cls.op = env.portal(OPERATOR)

    def start(self, drain_ms):
        cfg = self.env.onegate_config(workers=2)
        cfg.limits(drain_timeout_ms=drain_ms)
        cfg.upstream("operator", [self.op.addr])
        cfg.route("/operator/", "operator")
        return self.env.onegate(cfg)

    def test_sigterm_drains_in_flight(self):
        og = self.start(10000)
        results = [None] * 6
        started = threading.Barrier(len(results) + 1)

        def slow(i):
            try:
                with h.Conn(og.port, timeout=30) as c:
                    c.send(h.build_request("GET", "/operator/slow?delay_ms=1500"))
                    started.wait()
                    r = c.read_response()
                    results[i] = (r.status, r.body)
            except Exception as e:  # noqa: BLE001
                results[i] = ("error", repr(e))
        ts = [threading.Thread(target=slow, args=(i,)) for i in range(len(results))]
        for t in ts:
            t.start()
        started.wait()
        idle = h.Conn(og.port)  # an idle keep-alive connection must not hold up the exit
        self.assertEqual(idle.request("GET", "/operator/echo").status, 200)
        time.sleep(0.3)  # the slow requests have reached the upstream
        t0 = time.monotonic()
        og.proc.signal(signal.SIGTERM)

        # new connections are refused (or closed unanswered) soon after the signal
        def refused():
            try:
                s = socket.create_connection(("127.0.0.1", og.port), timeout=1)
            except OSError:
                return True
            try:
                s.settimeout(1.0)
                s.sendall(h.build_request("GET", "/operator/echo"))
                data = s.recv(100)
                return data == b""
            except OSError:
                return True
            finally:
                s.close()
        h.wait_for(refused, 1.0 * h.SLACK, interval=0.05, what="new connections refused")
        self.assertTrue(idle.wait_closed(3 * h.SLACK), "idle keep-alive connection not closed")
        idle.close()
        for t in ts:
            t.join(30)
        self.assertEqual(results, [(200, b"slow done")] * len(results),
                         "in-flight requests must complete during the drain")
        code = og.proc.wait(10 * h.SLACK)
        self.assertEqual(code, 0, "onegate must exit 0 after draining")
        self.assertLess(time.monotonic() - t0, 8.0 * h.SLACK,
                        "drain waited for more than the in-flight requests")

    def test_sigterm_drain_deadline(self):
        og = self.start(1000)
        box = {}

        def slow():
            try:
                with h.Conn(og.port, timeout=30) as c:
                    box["r"] = c.request("GET", "/operator/slow?delay_ms=8000")
            except Exception as e:  # noqa: BLE001
                box["e"] = e
        t = threading.Thread(target=slow)
        t.start()
        time.sleep(0.5)
        t0 = time.monotonic()
        og.proc.signal(signal.SIGTERM)
        code = og.proc.wait(10 * h.SLACK)
        elapsed = time.monotonic() - t0
        t.join(30)
        self.assertEqual(code, 0)
        self.assertGreaterEqual(elapsed, 0.8, "exited before the drain deadline")
        self.assertLess(elapsed, 1.0 + 3 * h.SLACK, "drain deadline not enforced")
        if "r" in box:
            self.assertNotEqual(box["r"].status, 200,
                                "an 8 s request cannot have completed in a 1 s drain")


if __name__ == "__main__":
    h.main()
