#!/usr/bin/env python3
"""test_demo_portal.py — the demo portal (deploy/demo-portal/) against its contract, directly:
no onegate in between. Starts $ONEGATE_BUILD_DIR/deploy/demo-portal/demo-portal on a free
loopback port, talks raw HTTP/1.1 and WebSocket over sockets, stops it by pid (SIGTERM must
exit 0). Self-contained: Python stdlib only, no harness."""
import base64
import hashlib
import json
import os
import signal
import socket
import struct
import subprocess
import sys
import time
import unittest

BUILD_DIR = os.environ.get("ONEGATE_BUILD_DIR", "build")
PORTAL = os.path.join(BUILD_DIR, "deploy", "demo-portal", "demo-portal")
TITLE = "Operator portal"
PATTERN = bytes(i % 251 for i in range(251 + (1 << 20)))


def start_portal(*extra):
    """Starts a portal on 127.0.0.1:0; returns (process, port) once it prints its line."""
    proc = subprocess.Popen([PORTAL, "--listen", "127.0.0.1:0", "--title", TITLE, "--quiet",
                             *extra], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    line = proc.stdout.readline().decode()
    prefix = "demo-portal listening on 127.0.0.1:"
    if not line.startswith(prefix):
        proc.kill()
        proc.wait()
        raise RuntimeError("demo-portal did not start: %r" % line)
    return proc, int(line[len(prefix):])


def stop_portal(proc):
    """SIGTERM by pid; returns the exit code."""
    os.kill(proc.pid, signal.SIGTERM)
    try:
        return proc.wait(timeout=20)
    finally:
        proc.stdout.close()


def rss_kib(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise RuntimeError("no VmRSS")


class Response:
    def __init__(self, status, reason, headers, body, raw_head):
        self.status, self.reason, self.headers, self.body = status, reason, headers, body
        self.raw_head = raw_head

    def header(self, name):
        for k, v in self.headers:
            if k.lower() == name.lower():
                return v
        return None

    def header_all(self, name):
        return [v for k, v in self.headers if k.lower() == name.lower()]


class Client:
    """A raw HTTP/1.1 client over one socket with its own read buffer."""

    def __init__(self, port, timeout=10):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        self.buf = b""

    def close(self):
        self.sock.close()

    def send(self, data):
        self.sock.sendall(data)

    def fill(self):
        data = self.sock.recv(1 << 20)
        if not data:
            raise EOFError("connection closed")
        self.buf += data

    def read_until(self, marker):
        while marker not in self.buf:
            self.fill()
        i = self.buf.index(marker) + len(marker)
        out, self.buf = self.buf[:i], self.buf[i:]
        return out

    def read_exact(self, n):
        while len(self.buf) < n:
            self.fill()
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def read_to_eof(self):
        try:
            while True:
                self.fill()
        except EOFError:
            pass
        out, self.buf = self.buf, b""
        return out

    def at_eof(self, timeout=5):
        """True when the server closed the connection (and sent nothing more)."""
        self.sock.settimeout(timeout)
        try:
            return self.sock.recv(1) == b""
        except ConnectionResetError:
            return True

    def read_response(self, head_request=False):
        raw = self.read_until(b"\r\n\r\n")
        lines = raw[:-4].decode("latin-1").split("\r\n")
        version, status, reason = (lines[0].split(" ", 2) + [""])[:3]
        assert version == "HTTP/1.1", lines[0]
        headers = []
        for line in lines[1:]:
            k, v = line.split(":", 1)
            headers.append((k, v.strip()))
        resp = Response(int(status), reason, headers, b"", raw)
        if head_request or resp.status in (204, 304) or 100 <= resp.status < 200:
            return resp
        te = resp.header("Transfer-Encoding")
        cl = resp.header("Content-Length")
        if te and te.lower() == "chunked":
            body = b""
            while True:
                size = int(self.read_until(b"\r\n")[:-2].split(b";")[0], 16)
                if size == 0:
                    self.read_until(b"\r\n")
                    break
                body += self.read_exact(size)
                assert self.read_exact(2) == b"\r\n"
            resp.body = body
        elif cl is not None:
            resp.body = self.read_exact(int(cl))
        else:
            resp.body = self.read_to_eof()
        return resp

    def request(self, method, path, headers=(), body=b""):
        head = "%s %s HTTP/1.1\r\nHost: portal.test\r\n" % (method, path)
        for k, v in headers:
            head += "%s: %s\r\n" % (k, v)
        if body and not any(k.lower() in ("content-length", "transfer-encoding")
                            for k, _ in headers):
            head += "Content-Length: %d\r\n" % len(body)
        self.send(head.encode("latin-1") + b"\r\n" + body)
        return self.read_response(head_request=(method == "HEAD"))


def get(port, path, headers=()):
    c = Client(port)
    try:
        return c.request("GET", path, headers)
    finally:
        c.close()


class DemoPortalTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.proc, cls.port = start_portal("--other-url", "http://127.0.0.1:1/ssp/")

    @classmethod
    def tearDownClass(cls):
        code = stop_portal(cls.proc)
        assert code == 0, "demo-portal exited %r on SIGTERM" % code

    def assertPortalHeaders(self, resp):
        self.assertEqual(resp.header("X-Demo-Portal"), TITLE)
        self.assertRegex(resp.header("X-Demo-Conn") or "", r"^[0-9]+$")

    # ---- page ----------------------------------------------------------------------------

    def test_page_shows_identity_headers_but_not_credentials(self):
        r = get(self.port, "/operator/some/page",
                [("Authorization", "Bearer sekrit-token-value"), ("X-Forwarded-For", "10.1.2.3"),
                 ("X-Forwarded-Proto", "https"), ("Via", "1.1 onegate"),
                 ("X-Request-Id", "req-42"), ("X-Auth-Roles", "admin<b>"),
                 ("X-Unrelated", "nope")])
        self.assertEqual(r.status, 200)
        self.assertPortalHeaders(r)
        self.assertTrue(r.header("Content-Type").startswith("text/html"))
        html = r.body.decode()
        self.assertIn("<title>%s</title>" % TITLE, html)
        self.assertIn("<h1>%s</h1>" % TITLE, html)
        for text in ("10.1.2.3", "https", "1.1 onegate", "req-42", "X-Auth-Roles",
                     "admin&lt;b&gt;", "present, scheme Bearer", 'href="http://127.0.0.1:1/ssp/"'):
            self.assertIn(text, html)
        self.assertNotIn("sekrit", html)
        self.assertNotIn("X-Unrelated", html)

    def test_head_page_has_length_and_no_body(self):
        c = Client(self.port)
        try:
            full = c.request("GET", "/")
            head = c.request("HEAD", "/")
            self.assertEqual(head.status, 200)
            self.assertEqual(head.header("Content-Length"), str(len(full.body)))
            # Nothing but the next response follows the HEAD response on the connection.
            again = c.request("GET", "/status?code=200")
            self.assertEqual(again.body, b"status 200\n")
        finally:
            c.close()

    def test_post_to_page_is_echoed(self):
        c = Client(self.port)
        try:
            r = c.request("POST", "/ssp/form", body=b"a=1")
            doc = json.loads(r.body)
            self.assertEqual(doc["method"], "POST")
            self.assertEqual(doc["body_sha256"], hashlib.sha256(b"a=1").hexdigest())
        finally:
            c.close()

    # ---- echo / upload -------------------------------------------------------------------

    def test_echo_reports_request_exactly(self):
        body = os.urandom(5000)
        c = Client(self.port)
        try:
            r = c.request("PUT", "/operator/deep/echo?x=1&y=%C3%A9",
                          [("x-MiXeD-Case", "v1"), ("X-Dup", "a"), ("X-Dup", "b"),
                           ("X-Utf8", "caf\u00e9".encode().decode("latin-1"))], body)
        finally:
            c.close()
        self.assertEqual(r.status, 200)
        self.assertPortalHeaders(r)
        self.assertEqual(r.header("Content-Type"), "application/json")
        doc = json.loads(r.body)
        self.assertEqual(doc["portal"], TITLE)
        self.assertEqual(doc["method"], "PUT")
        self.assertEqual(doc["path"], "/operator/deep/echo")
        self.assertEqual(doc["query"], "x=1&y=%C3%A9")
        self.assertEqual(doc["http_version"], "1.1")
        self.assertEqual(doc["headers"], [["Host", "portal.test"], ["x-MiXeD-Case", "v1"],
                                          ["X-Dup", "a"], ["X-Dup", "b"],
                                          ["X-Utf8", "caf\u00e9"],
                                          ["Content-Length", "5000"]])
        self.assertEqual(doc["body_bytes"], 5000)
        self.assertEqual(doc["body_sha256"], hashlib.sha256(body).hexdigest())
        self.assertEqual(doc["conn_id"], int(r.header("X-Demo-Conn")))
        self.assertEqual(doc["conn_requests"], 1)

    def test_echo_chunked_request_body(self):
        parts = [b"a" * 1, b"b" * 300, os.urandom(70000), b"tail"]
        wire = b"".join(b"%x;ext=1\r\n%s\r\n" % (len(p), p) for p in parts) + \
            b"0\r\nX-Trailer: t\r\n\r\n"
        c = Client(self.port)
        try:
            c.send(b"POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n")
            for i in range(0, len(wire), 777):  # dribbled in small pieces
                c.send(wire[i:i + 777])
            r = c.read_response()
            doc = json.loads(r.body)
            self.assertEqual(doc["body_bytes"], sum(map(len, parts)))
            self.assertEqual(doc["body_sha256"], hashlib.sha256(b"".join(parts)).hexdigest())
            # The connection stays usable after a chunked body with a trailer.
            self.assertEqual(json.loads(c.request("GET", "/echo").body)["conn_requests"], 2)
        finally:
            c.close()

    def test_upload_answers_bytes_and_hash_only(self):
        body = os.urandom(3 << 20)
        c = Client(self.port)
        try:
            r = c.request("POST", "/ssp/files/upload", body=body)
        finally:
            c.close()
        self.assertEqual(r.status, 200)
        self.assertEqual(json.loads(r.body),
                         {"bytes": len(body), "sha256": hashlib.sha256(body).hexdigest()})

    def test_expect_100_continue(self):
        body = b"z" * 1000
        c = Client(self.port)
        try:
            c.send(b"POST /upload HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n"
                   b"Expect: 100-continue\r\n\r\n")
            interim = c.read_until(b"\r\n\r\n")
            self.assertEqual(interim, b"HTTP/1.1 100 Continue\r\n\r\n")
            c.send(body)
            r = c.read_response()
            self.assertEqual(json.loads(r.body)["sha256"], hashlib.sha256(body).hexdigest())
        finally:
            c.close()

    # ---- connection handling -------------------------------------------------------------

    def test_keep_alive_counts_requests_per_connection(self):
        c = Client(self.port)
        try:
            docs = [json.loads(c.request("GET", "/a/echo").body) for _ in range(3)]
        finally:
            c.close()
        self.assertEqual([d["conn_requests"] for d in docs], [1, 2, 3])
        self.assertEqual(len({d["conn_id"] for d in docs}), 1)
        other = json.loads(get(self.port, "/echo").body)
        self.assertNotEqual(other["conn_id"], docs[0]["conn_id"])
        self.assertEqual(other["conn_requests"], 1)

    def test_pipelined_requests_answered_in_order(self):
        c = Client(self.port)
        try:
            c.send(b"GET /slow?delay_ms=200 HTTP/1.1\r\nHost: x\r\n\r\n"
                   b"POST /echo?n=2 HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc"
                   b"GET /download?bytes=100000 HTTP/1.1\r\nHost: x\r\n\r\n"
                   b"GET /status?code=201 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            r1, r2, r3, r4 = (c.read_response() for _ in range(4))
            self.assertTrue(c.at_eof())
        finally:
            c.close()
        self.assertEqual(r1.body, b"slow done")
        doc = json.loads(r2.body)
        self.assertEqual((doc["query"], doc["conn_requests"], doc["body_bytes"]), ("n=2", 2, 3))
        self.assertEqual(r3.body, PATTERN[:100000])
        self.assertEqual((r4.status, r4.header("Connection")), (201, "close"))

    def test_http10_closes_unless_keep_alive(self):
        c = Client(self.port)
        try:
            c.send(b"GET /status?code=200 HTTP/1.0\r\n\r\n")
            r = c.read_response()
            self.assertEqual(r.header("Connection"), "close")
            self.assertTrue(c.at_eof())
        finally:
            c.close()
        c = Client(self.port)
        try:
            c.send(b"GET /status?code=200 HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
            self.assertEqual(c.read_response().header("Connection"), "keep-alive")
            c.send(b"GET /echo HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
            self.assertEqual(json.loads(c.read_response().body)["http_version"], "1.0")
        finally:
            c.close()

    def test_half_closed_client_still_gets_its_answer(self):
        c = Client(self.port)
        try:
            c.send(b"GET /echo HTTP/1.1\r\nHost: x\r\n\r\n")
            c.sock.shutdown(socket.SHUT_WR)
            r = c.read_response()
            self.assertEqual(json.loads(r.body)["method"], "GET")
            self.assertTrue(c.at_eof())
        finally:
            c.close()

    def test_oversized_head_is_431_and_closed(self):
        c = Client(self.port)
        try:
            c.send(b"GET / HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * (70 * 1024) + b"\r\n\r\n")
            r = c.read_response()
            self.assertEqual(r.status, 431)
            self.assertEqual(r.header("Connection"), "close")
            self.assertTrue(c.at_eof())
        finally:
            c.close()

    def test_malformed_request_is_400_and_closed(self):
        c = Client(self.port)
        try:
            c.send(b"GET / HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n")
            r = c.read_response()
            self.assertEqual(r.status, 400)
            self.assertTrue(c.at_eof())
        finally:
            c.close()

    # ---- generated bodies ----------------------------------------------------------------

    def test_download_content_length_and_chunked(self):
        for query, chunked in (("bytes=1000003", False), ("bytes=1000003&chunked=1", True)):
            c = Client(self.port)
            try:
                r = c.request("GET", "/operator/download?" + query)
                self.assertEqual(r.status, 200)
                self.assertPortalHeaders(r)
                if chunked:
                    self.assertEqual(r.header("Transfer-Encoding"), "chunked")
                    self.assertIsNone(r.header("Content-Length"))
                else:
                    self.assertEqual(r.header("Content-Length"), "1000003")
                self.assertEqual(len(r.body), 1000003)
                self.assertEqual(hashlib.sha256(r.body).hexdigest(),
                                 hashlib.sha256(bytes(i % 251 for i in range(1000003)))
                                 .hexdigest())
                # keep-alive survives a streamed body
                self.assertEqual(c.request("GET", "/status?code=200").status, 200)
            finally:
                c.close()
        c = Client(self.port)
        try:
            r = c.request("HEAD", "/download?bytes=12345")
            self.assertEqual(r.header("Content-Length"), "12345")
            self.assertEqual(c.request("GET", "/download?bytes=0").body, b"")
        finally:
            c.close()

    def test_large_download_is_streamed_with_bounded_memory(self):
        total = 512 << 20
        base = rss_kib(self.proc.pid)
        c = Client(self.port, timeout=60)
        try:
            c.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 64 * 1024)
            c.send(b"GET /download?bytes=%d HTTP/1.1\r\nHost: x\r\n\r\n" % total)
            time.sleep(1.0)  # a stalled reader: the portal must stop producing
            stalled = rss_kib(self.proc.pid) - base
            c.read_until(b"\r\n\r\n")
            got, peak = len(c.buf), 0
            self.assertEqual(c.buf, PATTERN[:got])
            c.buf = b""
            buf = bytearray(1 << 20)
            view = memoryview(buf)
            while got < total:
                n = c.sock.recv_into(view[:min(len(buf), total - got)])
                self.assertGreater(n, 0)
                off = got % 251
                if view[:n] != PATTERN[off:off + n]:
                    self.fail("wrong byte near offset %d" % got)
                got += n
                if got % (64 << 20) < n:
                    peak = max(peak, rss_kib(self.proc.pid) - base)
            self.assertEqual(c.request("GET", "/status?code=200").status, 200)
        finally:
            c.close()
        self.assertLess(stalled, 16 * 1024, "RSS grew %d KiB with a stalled reader" % stalled)
        self.assertLess(peak, 32 * 1024, "RSS grew %d KiB while streaming" % peak)

    def test_stream_sends_chunks_over_time(self):
        c = Client(self.port)
        try:
            t0 = time.monotonic()
            c.send(b"GET /x/stream?chunks=3&size=5&interval_ms=500 HTTP/1.1\r\nHost: x\r\n\r\n")
            head = c.read_until(b"\r\n\r\n")
            self.assertIn(b"Transfer-Encoding: chunked", head)
            self.assertEqual(c.read_until(b"xxxxx\r\n"), b"5\r\nxxxxx\r\n")
            first = time.monotonic() - t0
            rest = c.read_until(b"0\r\n\r\n")
            total = time.monotonic() - t0
        finally:
            c.close()
        self.assertEqual(rest, b"5\r\nxxxxx\r\n5\r\nxxxxx\r\n0\r\n\r\n")
        self.assertLess(first, 0.45)  # the first chunk is not held back for the interval
        self.assertGreaterEqual(total, 0.95)

    def test_stream_defaults(self):
        r = get(self.port, "/stream?interval_ms=10")
        self.assertEqual(r.body, b"x" * 16 * 5)

    def test_nolength_is_close_delimited(self):
        c = Client(self.port)
        try:
            c.send(b"GET /ssp/nolength?bytes=70000 HTTP/1.1\r\nHost: x\r\n\r\n")
            r = c.read_response()
        finally:
            c.close()
        self.assertIsNone(r.header("Content-Length"))
        self.assertIsNone(r.header("Transfer-Encoding"))
        self.assertEqual(r.body, b"y" * 70000)

    def test_slow_waits(self):
        t0 = time.monotonic()
        r = get(self.port, "/operator/slow?delay_ms=400")
        self.assertGreaterEqual(time.monotonic() - t0, 0.39)
        self.assertEqual((r.status, r.body), (200, b"slow done"))
        self.assertPortalHeaders(r)

    def test_status_codes(self):
        for code in (200, 302, 404, 418, 502, 503):
            r = get(self.port, "/a/status?code=%d" % code)
            self.assertEqual(r.status, code)
            self.assertEqual(r.body, b"status %d\n" % code)
            self.assertPortalHeaders(r)
        r = get(self.port, "/status?code=204")
        self.assertEqual((r.status, r.header("Content-Length"), r.body), (204, None, b""))

    def test_headers_for_hop_by_hop_tests(self):
        r = get(self.port, "/operator/headers")
        self.assertEqual(r.status, 200)
        self.assertEqual(r.header("Connection"), "X-Hop-Test, keep-alive")
        self.assertEqual(r.header("X-Hop-Test"), "1")
        self.assertEqual(r.header("Keep-Alive"), "timeout=5")
        self.assertEqual(r.header("Proxy-Authenticate"), "Basic")
        self.assertEqual(r.header("Trailer"), "X-Trailer")
        self.assertEqual(r.header("X-End-To-End"), "kept")
        self.assertEqual(r.body, b"headers")

    # ---- broken responses ----------------------------------------------------------------

    def broken(self, kind):
        c = Client(self.port)
        try:
            c.send(b"GET /operator/broken?kind=%s HTTP/1.1\r\nHost: x\r\n\r\n" % kind.encode())
            return c.read_to_eof()  # the portal closes after each
        finally:
            c.close()

    def test_broken_responses(self):
        raw = self.broken("double_cl")
        head = raw.split(b"\r\n\r\n")[0]
        self.assertIn(b"\r\nContent-Length: 5\r\n", head)
        self.assertIn(b"\r\nContent-Length: 6\r\n", head)

        head = self.broken("te_cl").split(b"\r\n\r\n")[0]
        self.assertIn(b"\r\nTransfer-Encoding: chunked\r\n", head)
        self.assertIn(b"\r\nContent-Length: ", head)

        raw = self.broken("bad_chunk")
        self.assertIn(b"\r\nTransfer-Encoding: chunked\r\n", raw)
        self.assertEqual(raw.split(b"\r\n\r\n", 1)[1][:4], b"zz\r\n")

        raw = self.broken("garbage")
        self.assertGreater(len(raw), 0)
        self.assertFalse(raw.startswith(b"HTTP/"))

        raw = self.broken("truncated")
        head, body = raw.split(b"\r\n\r\n", 1)
        self.assertIn(b"\r\nContent-Length: 100\r\n", head)
        self.assertEqual(len(body), 10)

        raw = self.broken("bare_lf")
        self.assertTrue(raw.startswith(b"HTTP/1.1 200 OK\n"))
        self.assertNotIn(b"\r", raw)
        self.assertIn(b"\nContent-Length: 5\n", raw)
        self.assertTrue(raw.endswith(b"\n\nhello"))

        raw = self.broken("space_colon")
        self.assertIn(b"\r\nContent-Length : 5\r\n", raw)
        self.assertTrue(raw.endswith(b"\r\n\r\nhello"))

        r = get(self.port, "/broken?kind=nonsense")
        self.assertEqual(r.status, 400)

    # ---- WebSocket -----------------------------------------------------------------------

    @staticmethod
    def ws_frame(opcode, payload, fin=True):
        mask = os.urandom(4)
        b0 = (0x80 if fin else 0) | opcode
        n = len(payload)
        if n < 126:
            head = struct.pack("!BB", b0, 0x80 | n)
        elif n < 65536:
            head = struct.pack("!BBH", b0, 0x80 | 126, n)
        else:
            head = struct.pack("!BBQ", b0, 0x80 | 127, n)
        return head + mask + bytes(b ^ mask[i & 3] for i, b in enumerate(payload))

    @staticmethod
    def ws_read(c):
        b0, b1 = c.read_exact(2)
        assert not b1 & 0x80, "server frames must not be masked"
        n = b1 & 0x7F
        if n == 126:
            n = struct.unpack("!H", c.read_exact(2))[0]
        elif n == 127:
            n = struct.unpack("!Q", c.read_exact(8))[0]
        return b0, c.read_exact(n)

    def test_websocket_echo(self):
        key = base64.b64encode(os.urandom(16)).decode()
        c = Client(self.port)
        try:
            c.send(("GET /ssp/ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n"
                    "Connection: Upgrade\r\nSec-WebSocket-Key: %s\r\n"
                    "Sec-WebSocket-Version: 13\r\n\r\n" % key).encode()
                   + self.ws_frame(0x1, b"sent with the handshake"))
            r = c.read_response(head_request=True)
            self.assertEqual(r.status, 101)
            self.assertPortalHeaders(r)
            self.assertEqual(r.header("Upgrade").lower(), "websocket")
            expect = base64.b64encode(hashlib.sha1(
                (key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11").encode()).digest()).decode()
            self.assertEqual(r.header("Sec-WebSocket-Accept"), expect)
            self.assertEqual(self.ws_read(c), (0x81, b"sent with the handshake"))

            c.send(self.ws_frame(0x1, "h\u00e9llo".encode()))
            self.assertEqual(self.ws_read(c), (0x81, "h\u00e9llo".encode()))
            for size in (125, 126, 65535, 70000):
                data = os.urandom(size)
                c.send(self.ws_frame(0x2, data))
                self.assertEqual(self.ws_read(c), (0x82, data))
            c.send(self.ws_frame(0x1, b"frag-", fin=False) + self.ws_frame(0x0, b"ment"))
            self.assertEqual(self.ws_read(c), (0x01, b"frag-"))
            self.assertEqual(self.ws_read(c), (0x80, b"ment"))
            c.send(self.ws_frame(0x9, b"are you there"))
            self.assertEqual(self.ws_read(c), (0x8A, b"are you there"))
            c.send(self.ws_frame(0x8, struct.pack("!H", 1000) + b"bye"))
            self.assertEqual(self.ws_read(c), (0x88, struct.pack("!H", 1000)))
            self.assertTrue(c.at_eof())
        finally:
            c.close()

    def test_websocket_needs_upgrade(self):
        r = get(self.port, "/ws")
        self.assertEqual(r.status, 426)
        c = Client(self.port)
        try:
            c.send(b"GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n"
                   b"Connection: Upgrade\r\nSec-WebSocket-Version: 13\r\n\r\n")
            self.assertEqual(c.read_response().status, 400)  # no Sec-WebSocket-Key
        finally:
            c.close()


class DemoPortalThreadsTest(unittest.TestCase):
    def test_threads_serve_and_exit_cleanly(self):
        proc, port = start_portal("--threads", "2")
        try:
            ids = set()
            for _ in range(20):
                r = get(port, "/echo")
                self.assertEqual(r.status, 200)
                ids.add(json.loads(r.body)["conn_id"])
            self.assertEqual(len(ids), 20)  # one serial across threads
            idle = Client(port)  # a connection left open at exit
            idle.send(b"GET /status?code=200 HTTP/1.1\r\nHost: x\r\n\r\n")
            self.assertEqual(idle.read_response().status, 200)
        finally:
            code = stop_portal(proc)
        idle.close()
        self.assertEqual(code, 0)


if __name__ == "__main__":
    if not os.access(PORTAL, os.X_OK):
        sys.exit("demo-portal binary not found at %s (set ONEGATE_BUILD_DIR)" % PORTAL)
    unittest.main(verbosity=2)
