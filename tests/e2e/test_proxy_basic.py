#!/usr/bin/env python3
"""tests/e2e/test_proxy_basic.py — onegate as a reverse proxy in front of real demo portals:
routing, keep-alive on both sides, pipelining, chunked both ways, close-delimited bodies,
100-continue, body limits, WebSocket, hop-by-hop and forwarding headers, Host handling,
round-robin, passive health, and broken upstream framing."""

import hashlib
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as h  # noqa: E402

OPERATOR = "Operator portal"
SSP = "Self-Service Portal"


def sha(b):
    return hashlib.sha256(b).hexdigest()


class ProxyBasic(h.E2ECase):
    @classmethod
    def setUpEnv(cls, env):
        cls.op = env.portal(OPERATOR)
        cls.ssp = env.portal(SSP)
        cls.rr1 = env.portal("RR one")
        cls.rr2 = env.portal("RR two")
        cls.dead_port = h.free_port()  # nothing ever listens here
        cfg = env.onegate_config(workers=2)
        cfg.data["server_name"] = "onegate-e2e"
        cfg.upstream("operator", [cls.op.addr])
        cfg.upstream("ssp", [cls.ssp.addr])
        cfg.upstream("rr", [cls.rr1.addr, cls.rr2.addr])
        cfg.upstream("halfdown", ["127.0.0.1:%d" % cls.dead_port, cls.op.addr],
                     fail_timeout_ms=60000, connect_timeout_ms=2000)
        cfg.upstream("rewrite", [cls.op.addr], host_header="backend.internal")
        cfg.route("/operator/", "operator")
        cfg.route("/operator/deep/", "ssp")
        cfg.route("/ssp/", "ssp")
        cfg.route("/", "ssp", host="ssp.localhost")
        cfg.route("/small/", "operator", max_body_bytes=1000)
        cfg.route("/rr/", "rr")
        cfg.route("/half/", "halfdown")
        cfg.route("/rewrite/", "rewrite")
        cls.cfg = cfg
        cls.og = env.onegate(cfg)
        cls.port = cls.og.port

    # ---- helpers

    def echo(self, path, headers=None, host="localhost", method="GET", body=None):
        r = h.request(self.port, method, path, headers=headers, host=host, body=body)
        self.assertEqual(r.status, 200, "%s %s -> %r %r" % (method, path, r, r.body[:300]))
        return r, r.json()

    # ---- routing

    def test_routing_longest_prefix(self):
        _, e = self.echo("/operator/echo")
        self.assertEqual(e["portal"], OPERATOR)
        self.assertEqual(e["path"], "/operator/echo", "onegate must forward the path unchanged")
        _, e = self.echo("/operator/deep/echo")
        self.assertEqual(e["portal"], SSP, "/operator/deep/ is longer than /operator/")
        _, e = self.echo("/ssp/x/echo?a=1&b=2")
        self.assertEqual(e["portal"], SSP)
        self.assertEqual(e["query"], "a=1&b=2")

    def test_routing_host_specific_beats_any_host(self):
        _, e = self.echo("/operator/echo", host="ssp.localhost")
        self.assertEqual(e["portal"], SSP, "a host route beats an any-host route")
        _, e = self.echo("/operator/echo", host="SSP.localhost:8080")
        self.assertEqual(e["portal"], SSP, "host match is case-insensitive, port ignored")
        _, e = self.echo("/operator/echo", host="other.localhost")
        self.assertEqual(e["portal"], OPERATOR)

    def test_no_route_404_json_and_html(self):
        r = h.request(self.port, "GET", "/nowhere/echo", headers=[("Accept", "application/json")])
        self.assertEqual(r.status, 404)
        self.assertIsNone(r.header("X-Demo-Portal"), "404 must come from onegate itself")
        rid = r.header("X-Request-Id")
        self.assertTrue(rid, "onegate's error carries X-Request-Id")
        self.assertIn("json", (r.header("Content-Type") or "").lower())
        doc = r.json()
        self.assertIn(rid, r.text(), "JSON error body carries the request id")
        self.assertIsInstance(doc, dict)

        r = h.request(self.port, "GET", "/nowhere/echo",
                      headers=[("Accept", "text/html,application/xhtml+xml")])
        self.assertEqual(r.status, 404)
        rid2 = r.header("X-Request-Id")
        self.assertTrue(rid2)
        self.assertNotEqual(rid, rid2, "each request gets its own id")
        self.assertIn("html", (r.header("Content-Type") or "").lower())
        self.assertIn("<", r.text())
        self.assertIn(rid2, r.text(), "HTML error body carries the request id")

    # ---- keep-alive and pipelining

    def test_keepalive_client_and_upstream_reuse(self):
        with h.Conn(self.port) as c:
            conn_ids = set()
            demo_conns = set()
            last_requests = 0
            for i in range(6):
                r = c.request("GET", "/operator/echo?i=%d" % i)
                self.assertEqual(r.status, 200)
                e = r.json()
                self.assertEqual(e["query"], "i=%d" % i)
                conn_ids.add(e["conn_id"])
                demo_conns.add(r.header("X-Demo-Conn"))
                self.assertGreater(e["conn_requests"], last_requests)
                last_requests = e["conn_requests"]
                self.assertTrue(c.is_open_now(), "client connection kept alive")
            self.assertEqual(len(conn_ids), 1,
                             "sequential requests reuse one upstream connection: %r" % conn_ids)
            self.assertEqual(demo_conns, {str(next(iter(conn_ids)))})

    def test_pipelining_in_order(self):
        with h.Conn(self.port) as c:
            c.send(h.build_request("GET", "/operator/echo?n=1")
                   + h.build_request("GET", "/ssp/echo?n=2")
                   + h.build_request("POST", "/operator/echo?n=3", body=b"third")
                   + h.build_request("GET", "/operator/slow?delay_ms=200")
                   + h.build_request("GET", "/operator/echo?n=5"))
            rs = [c.read_response() for _ in range(5)]
            self.assertEqual([r.status for r in rs], [200] * 5)
            self.assertEqual(rs[0].json()["query"], "n=1")
            self.assertEqual(rs[1].json()["portal"], SSP)
            self.assertEqual(rs[1].json()["query"], "n=2")
            self.assertEqual(rs[2].json()["body_sha256"], sha(b"third"))
            self.assertEqual(rs[3].body, b"slow done")
            self.assertEqual(rs[4].json()["query"], "n=5")
            # and the connection is still usable afterwards
            self.assertEqual(c.request("GET", "/operator/echo").status, 200)

    def test_connection_close_honoured(self):
        with h.Conn(self.port) as c:
            r = c.request("GET", "/operator/echo", headers=[("Connection", "close")])
            self.assertEqual(r.status, 200)
            self.assertTrue(c.wait_closed(5 * h.SLACK), "Connection: close -> closed after")

    # ---- bodies and framing

    def test_chunked_request_body_reframed(self):
        pieces = [b"a" * 1, b"b" * 100, os.urandom(70000), b"c" * 4096, b"tail"]
        body = b"".join(pieces)
        with h.Conn(self.port) as c:
            c.send(h.build_request("POST", "/operator/echo",
                                   headers=[("Transfer-Encoding", "chunked")])
                   + h.chunked(pieces, ext=True, trailers=[("X-Checksum", "abc")]))
            r = c.read_response()
            self.assertEqual(r.status, 200)
            e = r.json()
            self.assertEqual(e["body_bytes"], len(body))
            self.assertEqual(e["body_sha256"], sha(body))
            te = h.echo_header_all(e, "Transfer-Encoding")
            cl = h.echo_header_all(e, "Content-Length")
            self.assertFalse(te and cl, "upstream got both TE and CL: %r %r" % (te, cl))
            self.assertLessEqual(len(te) + len(cl), 1)
            # the next request on the same connection is framed correctly too
            r = c.request("POST", "/operator/echo", body=b"after")
            self.assertEqual(r.json()["body_sha256"], sha(b"after"))

    def test_chunked_response_passed_through_streaming(self):
        with h.Conn(self.port) as c:
            t0 = time.monotonic()
            first = []

            def sink(data):
                if not first:
                    first.append(time.monotonic() - t0)
                got.append(data)
            got = []
            c.send(h.build_request("GET", "/operator/stream?chunks=5&size=16&interval_ms=400"))
            r = c.read_response(sink=sink)
            total = time.monotonic() - t0
            self.assertEqual(r.status, 200)
            self.assertEqual(r.framing, "chunked")
            self.assertEqual(b"".join(got), b"x" * 80)
            self.assertGreaterEqual(total, 1.5)
            self.assertLess(first[0], total - 0.8,
                            "first chunk must arrive before the upstream finished (streaming), "
                            "got first after %.2fs of %.2fs" % (first[0], total))
            # chunked download of a generated body, keep-alive afterwards
            r = c.request("GET", "/operator/download?bytes=300000&chunked=1")
            self.assertEqual(r.status, 200)
            self.assertEqual(r.body, h.pattern_block(300000))
            self.assertEqual(c.request("GET", "/operator/echo").status, 200)

    def test_medium_bodies_both_ways_keepalive(self):
        # bodies larger than any socket or bufferevent buffer, several on one connection
        with h.Conn(self.port, timeout=20) as c:
            for size in (300000, 1 << 20, 3 << 20):
                body = os.urandom(size)
                r = c.request("POST", "/operator/echo", body=body)
                self.assertEqual(r.status, 200)
                e = r.json()
                self.assertEqual((e["body_bytes"], e["body_sha256"]), (size, sha(body)))
                r = c.request("GET", "/operator/download?bytes=%d" % size)
                self.assertEqual(r.status, 200)
                self.assertEqual(r.framing, "length")
                self.assertEqual(r.body, h.pattern_block(size))

    def test_bodyless_responses_keep_framing(self):
        # HEAD (with a Content-Length), 204 and 304 carry no body: if onegate waited for one,
        # or sent one, the next response on the connection would be misread
        with h.Conn(self.port) as c:
            for _ in range(2):
                c.send(h.build_request("HEAD", "/operator/download?bytes=100000"))
                r = c.read_response(method="HEAD")
                self.assertEqual(r.status, 200)
                self.assertEqual(r.header("Content-Length"), "100000")
                r = c.request("GET", "/operator/status?code=204")
                self.assertEqual(r.status, 204)
                r = c.request("GET", "/operator/status?code=304")
                self.assertEqual(r.status, 304)
                c.send(h.build_request("HEAD", "/operator/"))
                self.assertEqual(c.read_response(method="HEAD").status, 200)
                r = c.request("GET", "/operator/echo?after=1")
                self.assertEqual(r.json()["query"], "after=1")
            self.assertEqual(bytes(c.buf), b"", "stray bytes after body-less responses")

    def test_http10_client(self):
        with h.Conn(self.port) as c:
            c.send(b"GET /operator/echo HTTP/1.0\r\nHost: localhost\r\n\r\n")
            r = c.read_response()
            self.assertEqual(r.status, 200)
            self.assertNotEqual(r.framing, "chunked", "no chunked encoding to an HTTP/1.0 client")
            self.assertEqual(r.json()["path"], "/operator/echo")
            self.assertTrue(c.wait_closed(5 * h.SLACK), "HTTP/1.0 without keep-alive: closed")
        with h.Conn(self.port) as c:
            c.send(b"GET /operator/stream?chunks=3&size=10&interval_ms=10 HTTP/1.0\r\n"
                   b"Host: localhost\r\n\r\n")
            r = c.read_response()
            self.assertEqual(r.status, 200)
            self.assertNotEqual(r.framing, "chunked", "no chunked encoding to an HTTP/1.0 client")
            self.assertEqual(r.body, b"x" * 30)

    def test_close_delimited_upstream_reframed(self):
        with h.Conn(self.port) as c:
            r = c.request("GET", "/operator/nolength?bytes=50000")
            self.assertEqual(r.status, 200)
            self.assertEqual(r.body, b"y" * 50000)
            self.assertEqual(r.framing, "chunked",
                             "a close-delimited upstream body is re-framed as chunked")
            r = c.request("GET", "/operator/echo")
            self.assertEqual(r.status, 200, "client connection survives the upstream close")

    def test_expect_100_continue(self):
        body = b"0123456789" * 100
        with h.Conn(self.port) as c:
            c.send(h.build_request("POST", "/operator/echo",
                                   headers=[("Expect", "100-continue"),
                                            ("Content-Length", str(len(body)))]))
            r = c.read_response(interim=True)
            self.assertEqual(r.status, 100, "100 Continue must come before the body is sent")
            c.send(body)
            r = c.read_response()
            self.assertEqual(r.status, 200)
            self.assertEqual(r.json()["body_sha256"], sha(body))
            self.assertEqual(c.request("GET", "/operator/echo").status, 200)

    def test_413_body_limit(self):
        # at the limit: fine
        _, e = self.echo("/small/echo", method="POST", body=b"z" * 1000)
        self.assertEqual(e["body_bytes"], 1000)
        # over it, with Expect: the 413 comes before any body is sent
        with h.Conn(self.port) as c:
            c.send(h.build_request("POST", "/small/echo",
                                   headers=[("Expect", "100-continue"),
                                            ("Content-Length", "5000")]))
            r = c.read_response(interim=True)
            self.assertEqual(r.status, 413)
            self.assertIsNone(r.header("X-Demo-Portal"))
        # over it, body sent at once
        with h.Conn(self.port) as c:
            c.send(h.build_request("POST", "/small/echo", body=b"z" * 5000))
            r = c.read_response()
            self.assertEqual(r.status, 413)
        # over it, chunked (only known while streaming); repeated, because whether the excess
        # arrives with the head or later changes the path taken inside onegate
        for i in range(10):
            with h.Conn(self.port) as c:
                req = (h.build_request("POST", "/small/echo",
                                       headers=[("Transfer-Encoding", "chunked")])
                       + h.chunked([b"z" * 600, b"z" * 600]))
                if i % 2:
                    c.send(req)
                else:
                    c.send(req[:len(req) // 2])
                    time.sleep(0.02)
                    try:
                        c.send(req[len(req) // 2:])
                    except (BrokenPipeError, ConnectionResetError):
                        pass
                r = c.read_response()
                self.assertEqual(r.status, 413, "attempt %d" % i)
        # the default limit (0 = unlimited) applies elsewhere
        _, e = self.echo("/operator/echo", method="POST", body=b"z" * 200000)
        self.assertEqual(e["body_bytes"], 200000)

    # ---- WebSocket

    def test_websocket_echo(self):
        key = "dGhlIHNhbXBsZSBub25jZQ=="
        with h.Conn(self.port) as c:
            c.send(h.build_request("GET", "/operator/ws", headers=[
                ("Upgrade", "websocket"), ("Connection", "Upgrade"),
                ("Sec-WebSocket-Key", key), ("Sec-WebSocket-Version", "13")]))
            r = c.read_response()
            self.assertEqual(r.status, 101, r)
            self.assertEqual((r.header("Upgrade") or "").lower(), "websocket")
            self.assertIn("upgrade", (r.header("Connection") or "").lower())
            self.assertEqual(r.header("Sec-WebSocket-Accept"), h.ws_accept_for(key))

            c.send(h.ws_frame(0x1, "héllo".encode()))
            fin, op, payload, masked = h.ws_read_frame(c)
            self.assertEqual((fin, op, payload, masked), (True, 0x1, "héllo".encode(), False))

            blob = os.urandom(300)
            c.send(h.ws_frame(0x2, blob))
            self.assertEqual(h.ws_read_frame(c)[1:3], (0x2, blob))

            big = os.urandom(100000)
            c.send(h.ws_frame(0x2, big))
            self.assertEqual(h.ws_read_frame(c)[1:3], (0x2, big))

            c.send(h.ws_frame(0x9, b"pingdata"))
            self.assertEqual(h.ws_read_frame(c)[1:3], (0xA, b"pingdata"))

            c.send(h.ws_frame(0x8, b"\x03\xe8bye"))
            fin, op, payload, _ = h.ws_read_frame(c)
            self.assertEqual(op, 0x8)
            self.assertEqual(payload[:2], b"\x03\xe8")
            self.assertTrue(c.wait_closed(5 * h.SLACK), "tunnel closes after the close frame")

    def test_upgrade_only_tunnelled_when_accepted(self):
        ws = [("Upgrade", "websocket"), ("Connection", "Upgrade"),
              ("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ=="), ("Sec-WebSocket-Version", "13")]
        # no route: onegate's own 404, no tunnel
        with h.Conn(self.port) as c:
            r = c.request("GET", "/nowhere/ws", headers=ws)
            self.assertEqual(r.status, 404)
            self.assertIsNone(r.header("Upgrade"))
        # the upstream answers 200 instead of 101: the connection stays HTTP
        with h.Conn(self.port) as c:
            r = c.request("GET", "/operator/echo?first=1", headers=ws)
            self.assertEqual(r.status, 200)
            self.assertEqual(r.json()["query"], "first=1")
            if c.is_open_now():
                r = c.request("GET", "/operator/echo?second=1")
                self.assertEqual(r.status, 200, "request after a refused upgrade was tunnelled")
                self.assertEqual(r.json()["query"], "second=1")

    # ---- headers

    def test_hop_by_hop_request_headers_removed(self):
        with h.Conn(self.port) as c:
            r = c.request("GET", "/operator/echo", headers=[
                ("Connection", "keep-alive, X-Custom-Hop"),
                ("X-Custom-Hop", "secret-hop"),
                ("Keep-Alive", "timeout=5"),
                ("TE", "trailers"),
                ("Trailer", "X-Foo"),
                ("Proxy-Authorization", "Basic cHJveHk6cGFzcw=="),
                ("Proxy-Connection", "keep-alive"),
                ("X-End-To-End", "kept"),
            ])
            self.assertEqual(r.status, 200)
            e = r.json()
            names = {k.lower() for k, _ in e["headers"]}
            for hop in ("x-custom-hop", "keep-alive", "te", "trailer", "proxy-authorization",
                        "proxy-connection"):
                self.assertNotIn(hop, names, "hop-by-hop %s forwarded: %r" % (hop, e["headers"]))
            for v in h.echo_header_all(e, "Connection"):
                self.assertNotIn("x-custom-hop", v.lower())
            self.assertEqual(h.echo_header(e, "X-End-To-End"), "kept")

    def test_hop_by_hop_response_headers_removed(self):
        with h.Conn(self.port) as c:
            r = c.request("GET", "/operator/headers")
            self.assertEqual(r.status, 200)
            self.assertEqual(r.body, b"headers")
            for hop in ("X-Hop-Test", "Keep-Alive", "Proxy-Authenticate", "Trailer"):
                self.assertIsNone(r.header(hop), "hop-by-hop response header %s passed: %r"
                                  % (hop, r.headers))
            for v in r.header_all("Connection"):
                self.assertNotIn("x-hop-test", v.lower())
            self.assertEqual(r.header("X-End-To-End"), "kept")
            self.assertEqual(r.header("X-Demo-Portal"), OPERATOR)
            self.assertEqual(c.request("GET", "/operator/echo").status, 200)

    def test_forwarding_headers_set(self):
        r, e = self.echo("/operator/echo", host="portal.example:8443")
        self.assertEqual(h.echo_header_all(e, "X-Forwarded-For"), ["127.0.0.1"])
        self.assertEqual(h.echo_header(e, "X-Forwarded-Proto"), "http")
        self.assertEqual(h.echo_header(e, "X-Forwarded-Host"), "portal.example:8443")
        fwd = h.echo_header(e, "Forwarded") or ""
        self.assertRegex(fwd.lower(), r'for="?127\.0\.0\.1')
        self.assertIn("proto=http", fwd.lower())
        self.assertRegex(fwd.lower(), r'host="?portal\.example:8443')
        via = h.echo_header(e, "Via") or ""
        self.assertRegex(via, r"1\.1 onegate-e2e\b", "Via names the server_name")
        rid = h.echo_header(e, "X-Request-Id")
        self.assertTrue(rid, "X-Request-Id generated")
        if r.header("X-Request-Id") is not None:
            self.assertEqual(r.header("X-Request-Id"), rid)
        _, e2 = self.echo("/operator/echo")
        self.assertNotEqual(h.echo_header(e2, "X-Request-Id"), rid)

    def test_untrusted_client_forwarding_headers_replaced(self):
        _, e = self.echo("/operator/echo", host="real.example", headers=[
            ("X-Forwarded-For", "1.2.3.4"),
            ("X-Forwarded-Proto", "https"),
            ("X-Forwarded-Host", "evil.example"),
            ("Forwarded", "for=1.2.3.4;proto=https"),
            ("X-Request-Id", "client-chosen-id-123"),
        ])
        self.assertEqual(h.echo_header_all(e, "X-Forwarded-For"), ["127.0.0.1"])
        self.assertEqual(h.echo_header_all(e, "X-Forwarded-Proto"), ["http"])
        self.assertEqual(h.echo_header_all(e, "X-Forwarded-Host"), ["real.example"])
        for v in h.echo_header_all(e, "Forwarded"):
            self.assertNotIn("1.2.3.4", v)
        rids = h.echo_header_all(e, "X-Request-Id")
        self.assertEqual(len(rids), 1)
        self.assertNotEqual(rids[0], "client-chosen-id-123")

    def test_trusted_proxy_forwarding_headers_kept(self):
        cfg = self.env.onegate_config(workers=1)
        cfg.data["trusted_proxies"] = ["127.0.0.1/32"]
        cfg.upstream("operator", [self.op.addr])
        cfg.route("/operator/", "operator")
        og = self.env.onegate(cfg)
        try:
            r = h.request(og.port, "GET", "/operator/echo", host="real.example", headers=[
                ("X-Forwarded-For", "1.2.3.4"),
                ("Forwarded", "for=1.2.3.4"),
                ("X-Request-Id", "client-chosen-id-123")])
            self.assertEqual(r.status, 200)
            e = r.json()
            xff = h.echo_header_all(e, "X-Forwarded-For")
            self.assertEqual(len(xff), 1, xff)
            self.assertEqual([p.strip() for p in xff[0].split(",")], ["1.2.3.4", "127.0.0.1"])
            self.assertEqual(h.echo_header_all(e, "X-Request-Id"), ["client-chosen-id-123"])
            fwd = ", ".join(h.echo_header_all(e, "Forwarded"))
            self.assertIn("1.2.3.4", fwd)
            self.assertIn("127.0.0.1", fwd)
            # without a client-sent id, one is still generated
            r = h.request(og.port, "GET", "/operator/echo")
            self.assertTrue(h.echo_header(r.json(), "X-Request-Id"))
        finally:
            og.proc.stop()

    def test_host_preserved_or_rewritten(self):
        _, e = self.echo("/operator/echo", host="myhost.example:8443")
        self.assertEqual(h.echo_header_all(e, "Host"), ["myhost.example:8443"])
        _, e = self.echo("/rewrite/echo", host="myhost.example:8443")
        self.assertEqual(h.echo_header_all(e, "Host"), ["backend.internal"])
        self.assertEqual(h.echo_header(e, "X-Forwarded-Host"), "myhost.example:8443")

    # ---- upstream selection

    def test_round_robin(self):
        seen = []
        with h.Conn(self.port) as c:
            for _ in range(10):
                r = c.request("GET", "/rr/echo")
                self.assertEqual(r.status, 200)
                seen.append(r.json()["portal"])
        self.assertGreaterEqual(seen.count("RR one"), 3, seen)
        self.assertGreaterEqual(seen.count("RR two"), 3, seen)
        # over fresh connections too (whatever worker they land on)
        fresh = [h.request(self.port, "GET", "/rr/echo").json()["portal"] for _ in range(10)]
        self.assertEqual(set(fresh), {"RR one", "RR two"}, fresh)

    def test_passive_health_one_server_down(self):
        for i in range(12):
            r = h.request(self.port, "GET", "/half/echo?i=%d" % i)
            self.assertEqual(r.status, 200, "request %d failed with a server down: %r" % (i, r))
            self.assertEqual(r.json()["portal"], OPERATOR)
        with h.Conn(self.port) as c:
            for i in range(6):
                self.assertEqual(c.request("GET", "/half/echo").status, 200)

    def test_broken_upstream_framing_502(self):
        # Kinds whose head is already wrong: onegate must answer 502 itself.
        for kind in ("double_cl", "te_cl", "garbage", "bare_lf", "space_colon"):
            with self.subTest(kind=kind):
                self._broken(kind, head_broken=True)
        # Kinds whose head is fine but whose body breaks: the head may already be on its way,
        # so a 502 or an aborted (closed, incomplete) response are both correct.
        for kind in ("bad_chunk", "truncated"):
            with self.subTest(kind=kind):
                self._broken(kind, head_broken=False)

    def _broken(self, kind, head_broken):
        c = h.Conn(self.port)
        try:
            r = c.request("GET", "/operator/echo")
            self.assertEqual(r.status, 200)
            before = r.json()["conn_id"]
            c.send(h.build_request("GET", "/operator/broken?kind=" + kind))
            try:
                r = c.read_response()
                if head_broken:
                    self.assertEqual(r.status, 502, "%s: %r %r" % (kind, r, r.body[:200]))
                else:
                    self.assertEqual(r.status, 502, "%s: complete response passed: %r"
                                     % (kind, r))
                self.assertIsNone(r.header("X-Demo-Portal"), "502 comes from onegate")
            except h.ConnectionClosed:
                # an aborted response: acceptable only when the head was fine
                if head_broken:
                    raise AssertionError("%s: connection closed instead of a 502" % kind)
            if c.eof or not c.is_open_now():
                c.close()
                c = h.Conn(self.port)
                r = c.request("GET", "/operator/echo")
                self.assertEqual(r.status, 200, "%s: next request after a broken upstream" % kind)
            else:
                r = c.request("GET", "/operator/echo")
                self.assertEqual(r.status, 200, "%s: next request after a broken upstream" % kind)
                self.assertNotEqual(r.json()["conn_id"], before,
                                    "%s: the upstream connection was reused" % kind)
        finally:
            c.close()


if __name__ == "__main__":
    h.main()
