#!/usr/bin/env python3
"""tests/e2e/test_upstream_pool.py — the upstream keep-alive pool under bursts: with
max_idle_per_server 8 and 50 concurrent keep-alive clients, connections above the idle limit are
kept briefly (surplus) and reused instead of being closed and reopened, so the upstream sees far
fewer connections than requests; surplus idle connections are closed about 1 s after they were
last used, leaving max_idle_per_server (docs/ARCHITECTURE-ENGINE.md, "Upstream keep-alive
pool")."""

import os
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as h  # noqa: E402

CLIENTS = 50
MAX_IDLE = 8
SURPLUS_S = 1.0     # GW_POOL_SURPLUS_MS in gateway/http/upstream_pool.c


def established_to(port):
    """TCP connections in state ESTABLISHED whose remote end is 127.0.0.1:<port> (onegate's
    side of its upstream connections), from /proc/net/tcp."""
    n = 0
    with open("/proc/net/tcp") as f:
        next(f)
        for line in f:
            parts = line.split()
            rem, st = parts[2], parts[3]
            if st == "01" and rem.endswith(":%04X" % port):
                n += 1
    return n


class UpstreamPool(h.E2ECase):
    @classmethod
    def setUpEnv(cls, env):
        cls.portal = env.portal("Pool portal")
        cfg = env.onegate_config(workers=1)     # one worker: one pool, one idle limit
        cfg.limits(max_connections=1000)
        cfg.upstream("up", [cls.portal.addr], max_idle_per_server=MAX_IDLE,
                     max_connections_per_server=256, idle_timeout_ms=60000)
        cfg.route("/", "up")
        cls.og = env.onegate(cfg)
        cls.port = cls.og.port

    def burst(self, conns, path, per_client):
        """Each of <conns> sends <per_client> requests for <path>, all clients at once (a
        barrier before each round). Returns the demo portal's conn_ids (None for non-echo)."""
        ids, errors = [], []
        lock = threading.Lock()
        barrier = threading.Barrier(len(conns))

        def client(c):
            try:
                for _ in range(per_client):
                    barrier.wait(timeout=30 * h.SLACK)
                    r = c.request("GET", path)
                    if r.status != 200:
                        raise AssertionError("%s -> %r" % (path, r))
                    with lock:
                        ids.append(r.json()["conn_id"] if path.endswith("/echo") else None)
            except Exception as e:  # noqa: BLE001 - reported below
                with lock:
                    errors.append(repr(e))
                barrier.abort()

        threads = [threading.Thread(target=client, args=(c,)) for c in conns]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60 * h.SLACK)
        self.assertEqual(errors, [])
        self.assertEqual(len(ids), len(conns) * per_client)
        return ids

    def test_bursts_reuse_connections_and_surplus_closes_after_delay(self):
        conns = [h.Conn(self.port, timeout=20 * h.SLACK) for _ in range(CLIENTS)]
        try:
            rounds = h.scaled(30, 10)
            ids = self.burst(conns, "/pool/echo", rounds)
            requests = len(ids)
            distinct = len(set(ids))
            # Closing every connection above 8 idle at once made about one connect per three
            # requests here; kept surplus connections are reused across rounds.
            self.assertLessEqual(distinct, max(CLIENTS + 10, requests // 10),
                                 "%d upstream connections for %d requests" % (distinct, requests))

            # A burst of slow requests holds ~50 upstream connections at the same moment; when
            # they come back all of them stay idle (surplus) rather than 8.
            self.burst(conns, "/pool/slow?delay_ms=300", 1)
            t_done = time.monotonic()
            right_after = established_to(self.portal.port)
            self.assertGreater(right_after, MAX_IDLE + 10,
                               "surplus idle connections were closed at once")
            # ...and the surplus is closed after about a second without reuse, down to the limit.
            h.wait_for(lambda: established_to(self.portal.port) <= MAX_IDLE,
                       SURPLUS_S + 2 * h.SLACK, what="surplus idle connections closed")
            waited = time.monotonic() - t_done
            self.assertGreater(waited, SURPLUS_S * 0.5, "surplus closed too early")
            time.sleep(0.3)
            self.assertEqual(established_to(self.portal.port), MAX_IDLE)

            # The 8 kept connections serve the next requests: no new connection for them.
            after = self.burst(conns[:MAX_IDLE], "/pool/echo", 3)
            self.assertLessEqual(len(set(after)), MAX_IDLE)
            self.assertEqual(established_to(self.portal.port), MAX_IDLE)
        finally:
            for c in conns:
                c.close()


if __name__ == "__main__":
    h.main()
