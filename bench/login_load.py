#!/usr/bin/env python3
"""login_load.py — logins as fast as onegate takes them: CLIENTS concurrent keep-alive
connections, each POSTing the JSON login (`POST <prefix>login`, {"username", "password"}) in a
loop for DURATION seconds, cycling through the seeded LOGINS (one per line of --users; all
share the password in --password-file). Every answer must be 200 with a session cookie; the
cookie is dropped (each login makes a new session, like a new browser would).

Prints one line:
    logins=N failed=N seconds=S rate=R p50_ms=X p99_ms=Y statuses=200:N,...
Used by bench/bench_sessions.sh; stdlib only. Stops early on SIGINT (still prints)."""
import argparse
import http.client
import itertools
import json
import signal
import sys
import threading
import time


def pct(sorted_xs, p):
    if not sorted_xs:
        return float("nan")
    return sorted_xs[min(len(sorted_xs) - 1, int(len(sorted_xs) * p / 100.0))]


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--path", default="/-/login")
    ap.add_argument("--users", required=True, help="file: one login per line")
    ap.add_argument("--password-file", required=True)
    ap.add_argument("--clients", type=int, default=8)
    ap.add_argument("--duration", type=float, default=10.0)
    ap.add_argument("--cookie-name", default="onegate_session")
    args = ap.parse_args()

    with open(args.users) as f:
        users = [u.strip() for u in f if u.strip()]
    with open(args.password_file) as f:
        password = f.read().strip()
    if not users:
        sys.exit("login_load: no users")

    stop = threading.Event()
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    next_user = itertools.count()
    lock = threading.Lock()
    lat, statuses, failed = [], {}, [0]

    def client():
        conn = None
        while not stop.is_set():
            with lock:
                user = users[next(next_user) % len(users)]
            body = json.dumps({"username": user, "password": password})
            t0 = time.monotonic()
            try:
                if conn is None:
                    conn = http.client.HTTPConnection("127.0.0.1", args.port, timeout=30)
                conn.request("POST", args.path, body=body,
                              headers={"Content-Type": "application/json",
                                       "Accept": "application/json"})
                resp = conn.getresponse()
                resp.read()
                status = resp.status
                ok = status == 200 and any(
                    v.startswith(args.cookie_name + "=") for k, v in resp.getheaders()
                    if k.lower() == "set-cookie")
                if resp.will_close:
                    conn.close()
                    conn = None
            except (OSError, http.client.HTTPException):
                status, ok = "error", False
                if conn:
                    conn.close()
                conn = None
            dt = time.monotonic() - t0
            with lock:
                statuses[status] = statuses.get(status, 0) + 1
                if ok:
                    lat.append(dt)
                else:
                    failed[0] += 1
        if conn:
            conn.close()

    threads = [threading.Thread(target=client, daemon=True) for _ in range(args.clients)]
    start = time.monotonic()
    for t in threads:
        t.start()
    stop.wait(args.duration)
    stop.set()
    for t in threads:
        t.join(35)
    secs = time.monotonic() - start
    lat.sort()
    print("logins=%d failed=%d seconds=%.2f rate=%.2f p50_ms=%.1f p99_ms=%.1f statuses=%s"
          % (len(lat), failed[0], secs, len(lat) / secs, 1000 * pct(lat, 50), 1000 * pct(lat, 99),
             ",".join("%s:%d" % kv for kv in sorted(statuses.items(), key=str))))


if __name__ == "__main__":
    main()
