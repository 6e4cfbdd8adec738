#!/usr/bin/env python3
"""idle_conns.py — memory cost of idle keep-alive client connections in a proxy.

Opens COUNT connections to 127.0.0.1:PORT, sends one small GET on each and reads the answer
(so each is a real keep-alive connection that has served a request), holds them idle, and
compares the proxy process's VmRSS (/proc/PID/status) before and after. Prints one line:
    rss_before_kib=N rss_after_kib=N conns=N bytes_per_conn=N
Used by bench/bench_proxy.sh; stdlib only."""
import argparse
import resource
import socket
import sys
import time


def rss_kib(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise RuntimeError("no VmRSS for pid %d" % pid)


def read_response(sock):
    """Reads one Content-Length framed response (the benchmark path has one)."""
    buf = b""
    while b"\r\n\r\n" not in buf:
        data = sock.recv(65536)
        if not data:
            raise EOFError("closed before the response head")
        buf += data
    head, body = buf.split(b"\r\n\r\n", 1)
    length = 0
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value)
    while len(body) < length:
        data = sock.recv(65536)
        if not data:
            raise EOFError("closed inside the body")
        body += data
    status = int(head.split(b" ", 2)[1])
    if status != 200:
        raise RuntimeError("status %d" % status)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--pid", type=int, required=True, help="process whose VmRSS is measured")
    ap.add_argument("--count", type=int, default=2000)
    ap.add_argument("--path", default="/")
    ap.add_argument("--settle", type=float, default=1.0, help="seconds idle before measuring")
    args = ap.parse_args()

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = min(hard, args.count + 100)
    if soft < want:
        resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))

    request = ("GET %s HTTP/1.1\r\nHost: bench\r\n\r\n" % args.path).encode()
    time.sleep(args.settle)
    before = rss_kib(args.pid)
    conns = []
    try:
        for _ in range(args.count):
            s = socket.create_connection(("127.0.0.1", args.port), timeout=10)
            s.sendall(request)
            read_response(s)
            conns.append(s)
        time.sleep(args.settle)
        after = rss_kib(args.pid)
        # Every connection must still be open (not closed by the proxy under us).
        for s in conns:
            s.setblocking(False)
            try:
                if s.recv(1) == b"":
                    raise RuntimeError("a held connection was closed by the proxy")
            except BlockingIOError:
                pass
    finally:
        for s in conns:
            s.close()
    per = (after - before) * 1024 / args.count
    print("rss_before_kib=%d rss_after_kib=%d conns=%d bytes_per_conn=%d"
          % (before, after, args.count, per))


if __name__ == "__main__":
    try:
        main()
    except Exception as e:  # one line for the calling script's log
        print("idle_conns: error: %s" % e, file=sys.stderr)
        sys.exit(1)
