#!/usr/bin/env python3
"""tests/e2e/test_streaming.py — a 1 GiB upload and a 1 GiB download stream through onegate
with bounded memory: the bytes arrive intact (SHA-256 at the far end) and onegate's VmRSS never
grows by 64 MiB or more, during or after, even while the client stops reading for a while
(backpressure). Python never holds a whole body: bodies are generated and hashed piece by
piece. Under ASan (ONEGATE_SANITIZED=1) the sizes shrink to 256 MiB; the normal build always
moves 1 GiB."""

import hashlib
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as h  # noqa: E402

GIB = 1 << 30
MIB = 1 << 20
BIG = h.scaled(GIB, 256 * MIB)
MEDIUM = h.scaled(64 * MIB, 32 * MIB)
# The requirement (issue 2) is checked in the normal build: under 64 MiB of growth. Under ASan
# the allocator keeps freed chunks in its quarantine and size-class caches and maps shadow
# memory for every new heap region, so RSS there measures ASan as much as onegate (runs on a
# loaded machine saw ~90 MiB for the same transfer that stays at ~3 MiB without ASan); the
# sanitized run keeps a looser bound that still catches a body being buffered whole.
RSS_GROWTH_LIMIT_KIB = h.scaled(64 * 1024, 160 * 1024)


class Streaming(h.E2ECase):
    @classmethod
    def setUpEnv(cls, env):
        cls.portal = env.portal("Operator portal")
        cfg = env.onegate_config(workers=2)
        cfg.upstream("operator", [cls.portal.addr])
        cfg.route("/operator/", "operator")
        cls.og = env.onegate(cfg)
        cls.port = cls.og.port
        # warm up: every worker has allocated its buffers, so the baseline is steady state
        for _ in range(8):
            r = h.request(cls.port, "POST", "/operator/upload", body=b"w" * (4 * MIB))
            assert r.status == 200, r
            r = h.request(cls.port, "GET", "/operator/download?bytes=%d" % (4 * MIB))
            assert r.status == 200, r

    def baseline(self):
        time.sleep(0.2)
        return self.og.proc.rss_kib()

    def assert_rss(self, sampler, base, what):
        growth = sampler.max_kib - base
        self.assertGreater(sampler.samples, 3, "RSS sampled during the transfer")
        self.assertLess(growth, RSS_GROWTH_LIMIT_KIB,
                        "%s: onegate VmRSS grew by %d KiB (base %d KiB, peak %d KiB)"
                        % (what, growth, base, sampler.max_kib))
        after = self.og.proc.rss_kib() - base
        self.assertLess(after, RSS_GROWTH_LIMIT_KIB,
                        "%s: onegate VmRSS %d KiB above base after the transfer" % (what, after))

    def upload(self, total, chunked):
        hasher = hashlib.sha256()
        with h.Conn(self.port, timeout=120) as c:
            if chunked:
                c.send(h.build_request("POST", "/operator/upload",
                                       headers=[("Transfer-Encoding", "chunked")]))
            else:
                c.send(h.build_request("POST", "/operator/upload",
                                       headers=[("Content-Length", str(total))]))
            sent = 0
            for piece in h.pattern_chunks(total):
                if chunked:
                    c.sock.sendall(b"%x\r\n" % len(piece))
                    c.sock.sendall(piece)
                    c.sock.sendall(b"\r\n")
                else:
                    c.sock.sendall(piece)
                hasher.update(piece)
                sent += len(piece)
            if chunked:
                c.sock.sendall(b"0\r\n\r\n")
            r = c.read_response()
        self.assertEqual(sent, total)
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json(), {"bytes": total, "sha256": hasher.hexdigest()})

    def download(self, total, chunked, stall_after=None, stall_s=0.0):
        """Reads a pattern download, hashing as it goes; stops reading for <stall_s> seconds
        once <stall_after> bytes have arrived."""
        hasher = hashlib.sha256()
        got = 0
        with h.Conn(self.port, timeout=120) as c:
            path = "/operator/download?bytes=%d%s" % (total, "&chunked=1" if chunked else "")
            c.send(h.build_request("GET", path))
            if chunked:
                state = {"stalled": False, "got": 0}

                def sink(data):
                    hasher.update(data)
                    state["got"] += len(data)
                    if stall_after and not state["stalled"] and state["got"] >= stall_after:
                        state["stalled"] = True
                        time.sleep(stall_s)
                r = c.read_response(sink=sink)
                self.assertEqual(r.status, 200)
                self.assertEqual(r.framing, "chunked")
                got = state["got"]
            else:
                # read the head with the framing client, then the body straight off the socket
                head = c.read_head()
                status = head.split(b"\r\n", 1)[0]
                self.assertTrue(status.startswith(b"HTTP/1.1 200"), status)
                cl = None
                for line in head.split(b"\r\n")[1:]:
                    k, _, v = line.partition(b":")
                    if k.strip().lower() == b"content-length":
                        cl = int(v.strip())
                self.assertEqual(cl, total)
                if c.buf:
                    hasher.update(c.buf)
                    got += len(c.buf)
                    c.buf.clear()
                buf = bytearray(MIB)
                mv = memoryview(buf)
                stalled = False
                while got < total:
                    n = c.sock.recv_into(mv, min(MIB, total - got))
                    if n == 0:
                        self.fail("download closed after %d of %d bytes" % (got, total))
                    hasher.update(mv[:n])
                    got += n
                    if stall_after and not stalled and got >= stall_after:
                        stalled = True
                        time.sleep(stall_s)
        self.assertEqual(got, total)
        self.assertEqual(hasher.hexdigest(), h.pattern_sha256(total), "download corrupted")

    def test_1gib_upload_bounded_memory(self):
        base = self.baseline()
        with h.RssSampler(self.og.pid) as s:
            self.upload(BIG, chunked=False)
        self.assert_rss(s, base, "upload of %d bytes" % BIG)

    def test_1gib_download_bounded_memory_with_stalled_reader(self):
        base = self.baseline()
        with h.RssSampler(self.og.pid) as s:
            # the reader stops for 3 s after 16 MiB: onegate must stop reading the upstream
            self.download(BIG, chunked=False, stall_after=16 * MIB, stall_s=3.0)
        self.assert_rss(s, base, "download of %d bytes" % BIG)

    def test_chunked_upload_and_download_bounded_memory(self):
        base = self.baseline()
        with h.RssSampler(self.og.pid) as s:
            self.upload(MEDIUM, chunked=True)
            self.download(MEDIUM, chunked=True, stall_after=8 * MIB, stall_s=2.0)
        self.assert_rss(s, base, "chunked transfers of %d bytes" % MEDIUM)

    def test_parallel_transfers(self):
        # several streams at once on both workers: each intact, memory still bounded
        import threading
        errors = []
        base = self.baseline()

        def run(kind):
            try:
                if kind == "up":
                    self.upload(MEDIUM, chunked=False)
                else:
                    self.download(MEDIUM, chunked=False)
            except BaseException as e:  # noqa: BLE001
                errors.append("%s: %r" % (kind, e))
        with h.RssSampler(self.og.pid) as s:
            ts = [threading.Thread(target=run, args=(k,)) for k in ("up", "down", "up", "down")]
            for t in ts:
                t.start()
            for t in ts:
                t.join()
        self.assertEqual(errors, [])
        self.assert_rss(s, base, "4 parallel transfers")


if __name__ == "__main__":
    h.main()
