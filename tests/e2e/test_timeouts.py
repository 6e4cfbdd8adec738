#!/usr/bin/env python3
"""tests/e2e/test_timeouts.py — every deadline onegate enforces, measured from the outside:
the whole-head deadline against a slowloris that keeps trickling bytes, idle keep-alive close,
the client body gap, upstream connect (-> 502, against a loopback blackhole), upstream response
(-> 504), upstream read gap, the upstream pool's idle timeout, and the client connection cap."""

import hashlib
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as h  # noqa: E402

HEADER_MS = 2000
KEEPALIVE_MS = 3000
BODY_MS = 1500
CONNECT_MS = 1000
RESPONSE_MS = 1000
READ_MS = 1000
UP_IDLE_MS = 1000


class Timeouts(h.E2ECase):
    @classmethod
    def setUpEnv(cls, env):
        cls.portal = env.portal("Operator portal")
        # upstreams with different timeouts get their own server: onegate's per-worker pool
        # keys servers by address
        cls.slow_portal = env.portal("Slow portal")
        cls.bh = env.blackhole()
        cfg = env.onegate_config(workers=2)
        cfg.limits(header_timeout_ms=HEADER_MS, keepalive_timeout_ms=KEEPALIVE_MS,
                   body_timeout_ms=BODY_MS)
        cfg.upstream("operator", [cls.portal.addr], idle_timeout_ms=UP_IDLE_MS)
        cfg.upstream("slowup", [cls.slow_portal.addr], response_timeout_ms=RESPONSE_MS,
                     read_timeout_ms=READ_MS)
        cfg.upstream("blackhole", [cls.bh.addr], connect_timeout_ms=CONNECT_MS,
                     fail_timeout_ms=1000)
        cfg.route("/operator/", "operator")
        cfg.route("/slowup/", "slowup")
        cfg.route("/blackhole/", "blackhole")
        cls.og = env.onegate(cfg)
        cls.port = cls.og.port

    def assert_not_success(self, c, what):
        """If onegate sent anything before closing, it must not be a success."""
        if c.buf:
            head = bytes(c.buf).split(b"\r\n", 1)[0]
            self.assertFalse(head.startswith(b"HTTP/1.1 2"), "%s: got %r" % (what, head))

    def test_slowloris_cut_at_header_deadline(self):
        c = h.Conn(self.port)
        try:
            t0 = time.monotonic()
            c.send(b"GET /operator/echo HTTP/1.1\r\nHost: localhost\r\nX-Slow: ")
            sent = 0
            closed_at = None
            limit = HEADER_MS / 1000 + 5 * h.SLACK
            while time.monotonic() - t0 < limit:
                try:
                    c.send(b"a")
                    sent += 1
                except (BrokenPipeError, ConnectionResetError):
                    closed_at = time.monotonic() - t0
                    break
                if c.wait_closed(0.25):
                    closed_at = time.monotonic() - t0
                    break
            self.assertIsNotNone(closed_at, "slowloris connection still open after %.1fs" % limit)
            self.assertGreaterEqual(closed_at, HEADER_MS / 1000 * 0.9,
                                    "cut too early (%.2fs)" % closed_at)
            self.assertLessEqual(closed_at, HEADER_MS / 1000 + 1.5 * h.SLACK,
                                 "cut late (%.2fs): the deadline must cover the whole head, "
                                 "not the gap between bytes" % closed_at)
            self.assertGreaterEqual(sent, 5, "bytes kept arriving until the cut")
            self.assert_not_success(c, "slowloris")
        finally:
            c.close()

    def test_keepalive_idle_close(self):
        with h.Conn(self.port) as c:
            self.assertEqual(c.request("GET", "/operator/echo").status, 200)
            time.sleep(KEEPALIVE_MS / 1000 * 0.5)
            self.assertEqual(c.request("GET", "/operator/echo").status, 200,
                             "connection idle for half the keep-alive timeout must still work")
            t0 = time.monotonic()
            closed = c.wait_closed(KEEPALIVE_MS / 1000 + 3 * h.SLACK)
            elapsed = time.monotonic() - t0
            self.assertTrue(closed, "idle keep-alive connection not closed")
            self.assertGreaterEqual(elapsed, KEEPALIVE_MS / 1000 * 0.8, "closed too early")
            self.assertEqual(bytes(c.buf), b"", "nothing is sent on an idle close")

    def test_body_timeout(self):
        with h.Conn(self.port) as c:
            c.send(h.build_request("POST", "/operator/echo",
                                   headers=[("Content-Length", "1000")]) + b"x" * 100)
            t0 = time.monotonic()
            closed = c.wait_closed(BODY_MS / 1000 + 3 * h.SLACK)
            elapsed = time.monotonic() - t0
            self.assertTrue(closed, "stalled request body not cut")
            self.assertGreaterEqual(elapsed, BODY_MS / 1000 * 0.8, "cut too early")
            self.assert_not_success(c, "stalled body")

    def test_body_slow_but_steady_passes(self):
        # gaps shorter than body_timeout_ms, total longer: a gap deadline, not a total one
        pieces = [os.urandom(100) for _ in range(5)]
        gap = BODY_MS / 1000 / 3
        with h.Conn(self.port) as c:
            c.send(h.build_request("POST", "/operator/echo",
                                   headers=[("Content-Length", str(100 * len(pieces)))]))
            for p in pieces:
                time.sleep(gap)
                c.send(p)
            r = c.read_response()
            self.assertEqual(r.status, 200)
            self.assertEqual(r.json()["body_sha256"], hashlib.sha256(b"".join(pieces)).hexdigest())

    def test_upstream_connect_timeout_502(self):
        t0 = time.monotonic()
        r = h.request(self.port, "GET", "/blackhole/echo", timeout=30)
        elapsed = time.monotonic() - t0
        self.assertEqual(r.status, 502, r)
        self.assertGreaterEqual(elapsed, CONNECT_MS / 1000 * 0.8, "502 before the connect timeout")
        self.assertLessEqual(elapsed, CONNECT_MS / 1000 + 2 * h.SLACK,
                             "connect timeout not enforced (%.2fs)" % elapsed)
        # a server that just failed may be skipped for fail_timeout_ms: still a quick 502/503
        t0 = time.monotonic()
        r = h.request(self.port, "GET", "/blackhole/echo", timeout=30)
        self.assertIn(r.status, (502, 503))
        self.assertLessEqual(time.monotonic() - t0, CONNECT_MS / 1000 + 2 * h.SLACK)

    def test_upstream_response_timeout_504(self):
        c = h.Conn(self.port)
        try:
            t0 = time.monotonic()
            r = c.request("GET", "/slowup/slow?delay_ms=4000")
            elapsed = time.monotonic() - t0
            self.assertEqual(r.status, 504, r)
            self.assertIsNone(r.header("X-Demo-Portal"))
            self.assertGreaterEqual(elapsed, RESPONSE_MS / 1000 * 0.8)
            self.assertLessEqual(elapsed, RESPONSE_MS / 1000 + 2 * h.SLACK)
            # the timed-out upstream connection must not be reused: its late "slow done" would
            # become the answer to the next request
            if not c.is_open_now():
                c.close()
                c = h.Conn(self.port)
            for _ in range(3):
                r = c.request("GET", "/slowup/echo")
                self.assertEqual(r.status, 200)
                self.assertEqual(r.json()["path"], "/slowup/echo")
            r = c.request("GET", "/slowup/slow?delay_ms=200")
            self.assertEqual((r.status, r.body), (200, b"slow done"))
        finally:
            c.close()

    def test_upstream_read_timeout(self):
        # A chunked stream whose chunks come every 3 s: whatever the portal sends first, no
        # byte arrives for longer than read_timeout_ms (or response_timeout_ms) -> cut.
        with h.Conn(self.port) as c:
            t0 = time.monotonic()
            c.send(h.build_request("GET", "/slowup/stream?chunks=3&size=16&interval_ms=3000"))
            try:
                r = c.read_response()
                elapsed = time.monotonic() - t0
                self.assertEqual(r.status, 504, "a stalled upstream body completed: %r" % r)
            except h.ConnectionClosed:
                elapsed = time.monotonic() - t0
            self.assertLessEqual(elapsed, READ_MS / 1000 + 2 * h.SLACK,
                                 "upstream read gap not enforced (%.2fs)" % elapsed)
        self.assertEqual(h.request(self.port, "GET", "/slowup/echo").status, 200)

    def test_upstream_idle_pool_timeout(self):
        with h.Conn(self.port) as c:
            a = c.request("GET", "/operator/echo").json()["conn_id"]
            b = c.request("GET", "/operator/echo").json()["conn_id"]
            self.assertEqual(a, b, "back-to-back requests reuse the pooled upstream connection")
            time.sleep(UP_IDLE_MS / 1000 + 1.0)
            r = c.request("GET", "/operator/echo")
            self.assertEqual(r.status, 200)
            self.assertNotEqual(r.json()["conn_id"], a,
                                "a pooled connection idle past idle_timeout_ms was reused")


class SharedServer(h.E2ECase):
    """Two upstreams naming the same server keep their own settings: idle_timeout_ms of one
    must not be replaced by the other's."""

    @classmethod
    def setUpEnv(cls, env):
        cls.portal = env.portal("Operator portal")
        cfg = env.onegate_config(workers=1)
        cfg.upstream("short", [cls.portal.addr], idle_timeout_ms=UP_IDLE_MS)
        cfg.upstream("long", [cls.portal.addr], idle_timeout_ms=60000)
        cfg.route("/short/", "short")
        cfg.route("/long/", "long")
        cls.og = env.onegate(cfg)
        cls.port = cls.og.port

    def test_idle_timeout_per_upstream(self):
        with h.Conn(self.port) as c:
            a = c.request("GET", "/short/echo").json()["conn_id"]
            self.assertEqual(c.request("GET", "/short/echo").json()["conn_id"], a)
            time.sleep(UP_IDLE_MS / 1000 + 1.0)
            r = c.request("GET", "/short/echo")
            self.assertNotEqual(r.json()["conn_id"], a,
                                "upstream 'short' (idle_timeout_ms %d) reused a connection idle "
                                "for longer: another upstream's setting for the same server "
                                "applied" % UP_IDLE_MS)


class UpstreamConnLimit(h.E2ECase):
    """max_connections_per_server: requests over it wait for a pooled connection instead of
    opening more."""

    @classmethod
    def setUpEnv(cls, env):
        cls.portal = env.portal("Operator portal")
        cfg = env.onegate_config(workers=1)
        cfg.upstream("one", [cls.portal.addr], max_connections_per_server=1)
        cfg.route("/one/", "one")
        cls.og = env.onegate(cfg)
        cls.port = cls.og.port

    def test_requests_queue_for_the_single_connection(self):
        import threading
        results = []
        lock = threading.Lock()

        def run(i):
            try:
                with h.Conn(self.port, timeout=20) as c:
                    r = c.request("GET", "/one/slow?delay_ms=300")
                    r2 = c.request("GET", "/one/echo")
                    with lock:
                        results.append((r.status, r.body, r2.status, r2.header("X-Demo-Conn")))
            except Exception as e:  # noqa: BLE001
                with lock:
                    results.append(("error", repr(e)))
        t0 = time.monotonic()
        ts = [threading.Thread(target=run, args=(i,)) for i in range(3)]
        for t in ts:
            t.start()
        for t in ts:
            t.join(30)
        elapsed = time.monotonic() - t0
        self.assertEqual(len(results), 3)
        for r in results:
            self.assertEqual(r[:3], (200, b"slow done", 200), results)
        self.assertEqual(len({r[3] for r in results}), 1,
                         "more than one upstream connection was opened: %r" % results)
        self.assertGreaterEqual(elapsed, 0.85, "three 300 ms requests over one connection "
                                "cannot finish in %.2fs" % elapsed)


class ConnectionCap(h.E2ECase):
    CAP = 3

    @classmethod
    def setUpEnv(cls, env):
        cls.portal = env.portal("Operator portal")
        cfg = env.onegate_config(workers=2)
        cfg.limits(max_connections=cls.CAP)
        cfg.upstream("operator", [cls.portal.addr])
        cfg.route("/operator/", "operator")
        cls.og = env.onegate(cfg)
        cls.port = cls.og.port

    def open_working(self):
        """A connection that got a 200 (retrying while closed connections are still being
        counted down)."""
        deadline = time.monotonic() + 5 * h.SLACK
        while True:
            c = h.Conn(self.port)
            try:
                r = c.request("GET", "/operator/echo")
                if r.status == 200:
                    return c
            except (h.ConnectionClosed, ConnectionResetError, BrokenPipeError):
                pass
            c.close()
            if time.monotonic() > deadline:
                self.fail("could not get a working connection under the cap")
            time.sleep(0.1)

    def test_connection_cap(self):
        conns = [self.open_working() for _ in range(self.CAP)]
        try:
            # one more: closed early, never served
            extra = h.Conn(self.port)
            t0 = time.monotonic()
            try:
                try:
                    extra.send(h.build_request("GET", "/operator/echo"))
                except (BrokenPipeError, ConnectionResetError):
                    pass
                try:
                    r = extra.read_response()
                    self.assertNotEqual(r.status, 200, "a connection over the cap was served")
                except (h.ConnectionClosed, ConnectionResetError):
                    pass
                self.assertTrue(extra.wait_closed(2 * h.SLACK), "over-cap connection left open")
                self.assertLessEqual(time.monotonic() - t0, 2 * h.SLACK)
            finally:
                extra.close()
            # the existing ones are unaffected, several times over
            for _ in range(3):
                for c in conns:
                    self.assertEqual(c.request("GET", "/operator/echo").status, 200)
            # a slot freed is a slot usable again
            conns.pop(0).close()
            conns.append(self.open_working())
            for c in conns:
                self.assertEqual(c.request("GET", "/operator/echo").status, 200)
        finally:
            for c in conns:
                c.close()


if __name__ == "__main__":
    h.main()
