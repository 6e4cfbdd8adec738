#!/usr/bin/env python3
"""tests/e2e/test_strictness.py — every malformed or ambiguous request head is refused by
onegate with the right status (400/414/431) and the connection closed, and none of it ever
reaches an upstream. The upstream here is a recording sink (harness.RecordingUpstream) so that
"nothing reached it" is checked byte for byte; a demo portal route checks the same limits
against a real upstream."""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as h  # noqa: E402

LINE_LIMIT = 1024
HEAD_LIMIT = 4096
MAX_HEADERS = 20

R = b"POST /rec/x HTTP/1.1\r\nHost: localhost\r\n"
G = b"GET /rec/x HTTP/1.1\r\nHost: localhost\r\n"

# name -> (raw request bytes, expected status)
CASES = {
    "two_cl_same": (R + b"Content-Length: 5\r\nContent-Length: 5\r\n\r\nhello", 400),
    "two_cl_different": (R + b"Content-Length: 5\r\nContent-Length: 6\r\n\r\nhello!", 400),
    "te_and_cl": (R + b"Transfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n0\r\n\r\n", 400),
    "cl_plus": (R + b"Content-Length: +5\r\n\r\nhello", 400),
    "cl_alpha": (R + b"Content-Length: abc\r\n\r\nhello", 400),
    "cl_negative": (R + b"Content-Length: -1\r\n\r\nhello", 400),
    "cl_huge": (R + b"Content-Length: 99999999999999999999999\r\n\r\nhello", 400),
    "te_gzip_alone": (R + b"Transfer-Encoding: gzip\r\n\r\nhello", 400),
    "te_xchunked": (R + b"Transfer-Encoding: xchunked\r\n\r\n0\r\n\r\n", 400),
    "te_chunked_not_last": (R + b"Transfer-Encoding: chunked, gzip\r\n\r\n0\r\n\r\n", 400),
    "obs_fold": (G + b"X-Folded: a\r\n  b\r\n\r\n", 400),
    "obs_fold_tab": (G + b"X-Folded: a\r\n\tb\r\n\r\n", 400),
    "bare_lf_everywhere": (b"GET /rec/x HTTP/1.1\nHost: localhost\nX-A: b\n\n", 400),
    "bare_lf_one_header": (G + b"X-A: b\nX-B: c\r\n\r\n", 400),
    "space_in_name": (b"GET /rec/x HTTP/1.1\r\nHo st: localhost\r\n\r\n", 400),
    "space_before_colon": (R + b"Content-Length : 5\r\n\r\nhello", 400),
    "tab_before_colon": (G + b"X-A\t: b\r\n\r\n", 400),
    "nul_in_value": (G + b"X-A: a\x00b\r\n\r\n", 400),
    "ctl_0x01_in_value": (G + b"X-A: a\x01b\r\n\r\n", 400),
    "ctl_0x1f_in_value": (G + b"X-A: a\x1fb\r\n\r\n", 400),
    "del_in_value": (G + b"X-A: a\x7fb\r\n\r\n", 400),
    "cr_in_value": (G + b"X-A: a\rb\r\n\r\n", 400),
    "ctl_in_name": (G + b"X-\x01A: b\r\n\r\n", 400),
    "ctl_in_target": (b"GET /rec/a\x01b HTTP/1.1\r\nHost: localhost\r\n\r\n", 400),
    "empty_name": (G + b": novalue\r\n\r\n", 400),
    "request_line_too_long": (b"GET /rec/" + b"a" * (LINE_LIMIT * 2) + b" HTTP/1.1\r\n"
                              b"Host: localhost\r\n\r\n", 414),
    "header_too_long": (G + b"X-Big: " + b"v" * (HEAD_LIMIT + 100) + b"\r\n\r\n", 431),
    "head_too_long_many_lines": (G + b"".join(b"X-H%d: %s\r\n" % (i, b"v" * 300)
                                              for i in range(HEAD_LIMIT // 300 + 2)) + b"\r\n",
                                 431),
    "too_many_headers": (G + b"".join(b"X-H%d: v\r\n" % i for i in range(MAX_HEADERS + 5))
                         + b"\r\n", 431),
}

SMUGGLED = b"GET /rec/smuggled HTTP/1.1\r\nHost: localhost\r\n\r\n"


def _cl(body):
    return b"Content-Length: %d\r\n" % len(body)


_TE_BODY = b"0\r\n\r\n" + SMUGGLED
_CHUNK_BODY = b"%x\r\n" % len(SMUGGLED) + SMUGGLED + b"\r\n0\r\n\r\n"

SMUGGLING = {
    # CL.TE: a CL-trusting hop forwards the whole body, a TE-trusting one sees a second request.
    "cl_te": R + _cl(_TE_BODY) + b"Transfer-Encoding: chunked\r\n\r\n" + _TE_BODY,
    # TE.CL with an obfuscated TE (space before the colon)
    "te_space_cl": R + b"Content-Length: 4\r\nTransfer-Encoding : chunked\r\n\r\n" + _CHUNK_BODY,
    # two CLs hiding a request in the longer body
    "cl_cl": R + b"Content-Length: 0\r\n" + _cl(SMUGGLED) + b"\r\n" + SMUGGLED,
    # a request hidden behind an obs-folded Transfer-Encoding
    "te_fold": R + _cl(_TE_BODY) + b"Transfer-Encoding:\r\n chunked\r\n\r\n" + _TE_BODY,
}


class Strictness(h.E2ECase):
    @classmethod
    def setUpEnv(cls, env):
        cls.rec = env.recorder()
        cls.portal = env.portal("Operator portal")
        cfg = env.onegate_config(workers=2)
        cfg.limits(max_request_line_bytes=LINE_LIMIT, max_header_bytes=HEAD_LIMIT,
                   max_headers=MAX_HEADERS)
        cfg.upstream("rec", [cls.rec.addr])
        cfg.upstream("operator", [cls.portal.addr])
        cfg.route("/rec/", "rec")
        cfg.route("/operator/", "operator")
        cls.og = env.onegate(cfg)
        cls.port = cls.og.port

    def barrier(self):
        """A valid request through the recorder route: proves the route works and orders the
        recorder's count (everything onegate forwarded before it has been counted)."""
        n = self.rec.request_count()
        r = h.request(self.port, "GET", "/rec/barrier")
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.body, b"rec")
        h.wait_for(lambda: self.rec.request_count() >= n + 1, 5 * h.SLACK, what="barrier")
        return self.rec.request_count()

    def refused(self, raw, status, name):
        """Sends <raw> on a fresh connection; expects <status> from onegate and then the
        connection closed."""
        with h.Conn(self.port) as c:
            try:
                c.send(raw)
            except (BrokenPipeError, ConnectionResetError):
                pass
            try:
                r = c.read_response()
            except h.ConnectionClosed as e:
                self.fail("%s: connection closed without a %d response (%s)" % (name, status, e))
            self.assertEqual(r.status, status, "%s: got %r" % (name, r))
            self.assertIsNone(r.header("X-Rec-Count"), "%s: answer came from upstream" % name)
            self.assertTrue(c.wait_closed(5 * h.SLACK),
                            "%s: connection not closed after the %d" % (name, status))

    def test_baseline_valid_requests_pass(self):
        # Near-limit but valid heads pass: the limits are not off by much.
        before = self.barrier()
        ok = [
            G + b"\r\n",
            R + b"Content-Length: 5\r\n\r\nhello",
            R + b"Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
            G + b"X-Tab: a\tb\r\nX-Spaces:   padded   \r\n\r\n",
            G + b"".join(b"X-H%d: v\r\n" % i for i in range(MAX_HEADERS - 2)) + b"\r\n",
            b"GET /rec/" + b"a" * (LINE_LIMIT - 40) + b" HTTP/1.1\r\nHost: localhost\r\n\r\n",
            G + b"X-Big: " + b"v" * (HEAD_LIMIT - 200) + b"\r\n\r\n",
        ]
        for i, raw in enumerate(ok):
            with h.Conn(self.port) as c:
                c.send(raw)
                r = c.read_response()
                self.assertEqual(r.status, 200, "valid request %d refused: %r" % (i, r))
        after = self.barrier()
        self.assertEqual(after - before, len(ok) + 1)

    def test_each_strictness_case(self):
        for name, (raw, status) in CASES.items():
            with self.subTest(case=name):
                before = self.barrier()
                self.refused(raw, status, name)
                after = self.barrier()
                self.assertEqual(after - before, 1,
                                 "%s: %d request(s) reached the upstream" % (name,
                                                                              after - before - 1))

    def test_limits_against_real_portal(self):
        # same limits in front of a demo portal, whose own limits are larger
        for name in ("request_line_too_long", "header_too_long", "too_many_headers",
                     "two_cl_different", "space_before_colon"):
            raw, status = CASES[name]
            raw = raw.replace(b"/rec/", b"/operator/", 1)
            with self.subTest(case=name):
                self.refused(raw, status, name)

    def test_smuggling_never_reaches_upstream(self):
        for name, raw in SMUGGLING.items():
            with self.subTest(case=name):
                before = self.barrier()
                with h.Conn(self.port) as c:
                    try:
                        c.send(raw)
                    except (BrokenPipeError, ConnectionResetError):
                        pass
                    try:
                        r = c.read_response()
                        self.assertEqual(r.status, 400, "%s: %r" % (name, r))
                        self.assertIsNone(r.header("X-Rec-Count"))
                    except h.ConnectionClosed:
                        self.fail("%s: closed without a 400" % name)
                    # no second response may follow the 400
                    self.assertTrue(c.wait_closed(5 * h.SLACK), "%s: left open" % name)
                    self.assertEqual(bytes(c.buf), b"", "%s: bytes after the 400" % name)
                after = self.barrier()
                self.assertEqual(after - before, 1, "%s: something reached the upstream" % name)
        self.assertNotIn(b"/rec/smuggled", self.rec.all_bytes())

    def test_pipelined_after_bad_request_not_forwarded(self):
        # a valid request followed on the same connection by a bad one and a valid one: the
        # first is answered, the bad one gets 400, and the third is never forwarded.
        before = self.barrier()
        with h.Conn(self.port) as c:
            c.send(G + b"\r\n" + G + b"X-A: a\x00b\r\n\r\n" + b"GET /rec/after-bad HTTP/1.1\r\n"
                   b"Host: localhost\r\n\r\n")
            r1 = c.read_response()
            self.assertEqual(r1.status, 200)
            r2 = c.read_response()
            self.assertEqual(r2.status, 400)
            self.assertTrue(c.wait_closed(5 * h.SLACK))
            self.assertEqual(bytes(c.buf), b"")
        after = self.barrier()
        self.assertEqual(after - before, 2)
        self.assertNotIn(b"/rec/after-bad", self.rec.all_bytes())


if __name__ == "__main__":
    h.main()
