#!/usr/bin/env python3
"""bench/token_tools.py — helpers of bench/bench_tokens.sh (stdlib only).

  token_tools.py bad --token-file F --count N --out FILE
      N distinct, well-formed tokens with bad signatures, one per line, derived from the
      valid access token in F: same header (alg, kid), the payload's claims with a different
      `jti` each (so every token is distinct and passes every structural check: size, base64,
      JSON, alg, kid, sub_type, iss, exp), and the signature of the original payload — a
      well-formed 64-byte ES256 signature that does not match. Only a signature check can
      refuse them.

  token_tools.py flood --port P --tokens FILE --seconds S [--conns C] [--sources K]
                       [--path PATH] [--first-source A.B.C.D] [--rate R]
      Sends those tokens as `Authorization: Bearer` on keep-alive connections, R requests/s in
      all (paced; 0 = flat out, each connection sends as soon as it has its answer), for S
      seconds (bounded: it stops by itself), from K distinct loopback source addresses
      (default 1: 127.0.0.2 — another client than the measuring wrk on 127.0.0.1; K > 1:
      consecutive addresses from --first-source, default 127.0.1.1). Reconnects when the
      server closes. Prints one line: requests, seconds, rate, and answers by status.

  token_tools.py perfshare --script FILE --entry F[,F...] --stop F[,F...]
      Reads `perf script -F ip,sym` output (DWARF call graphs, inlined frames included) and
      counts the samples spent in token work: walking each sample's stack from the leaf up,
      the first frame that is an --entry function (e.g. gw_bearer_verify) makes it token
      work, the first that is a --stop function (the callback that continues with proxying,
      e.g. on_bearer) makes it not. Prints samples, token samples, share and the top leaf
      symbols of the token work.

Tokens are throw-away bench credentials of a temporary instance; they are never printed.
"""
import argparse
import base64
import ipaddress
import json
import selectors
import socket
import sys
import time


def b64d(s):
    return base64.urlsafe_b64decode(s + "=" * (-len(s) % 4))


def b64e(b):
    return base64.urlsafe_b64encode(b).rstrip(b"=").decode()


def cmd_bad(a):
    with open(a.token_file) as f:
        tok = f.read().strip()
    h, p, s = tok.split(".")
    claims = json.loads(b64d(p))
    with open(a.out, "w") as out:
        for i in range(a.count):
            c = dict(claims)
            jti = str(c.get("jti", "x"))
            c["jti"] = ("bad%07d" % i + jti)[: max(len(jti), 10)]
            body = b64e(json.dumps(c, separators=(",", ":")).encode())
            out.write("%s.%s.%s\n" % (h, body, s))


class Conn:
    __slots__ = ("sock", "src", "buf", "need", "status")

    def __init__(self, src):
        self.src = src
        self.sock = None
        self.buf = b""
        self.need = None
        self.status = None


def cmd_flood(a):
    with open(a.tokens) as f:
        toks = [t.strip() for t in f if t.strip()]
    reqs = [("GET %s HTTP/1.1\r\nHost: bench\r\nAuthorization: Bearer %s\r\n\r\n"
             % (a.path, t)).encode() for t in toks]
    first = ipaddress.IPv4Address(a.first_source if a.sources > 1 else "127.0.0.2")
    sources = [first + i for i in range(a.sources)]
    if not all(ip in ipaddress.IPv4Network("127.0.0.0/8") for ip in sources):
        sys.exit("flood sources must be loopback addresses (127.0.0.0/8)")
    sources = [str(ip) for ip in sources]
    sel = selectors.DefaultSelector()
    counts = {}
    sent = 0
    state = {"i": 0}

    def send_next(c):
        nonlocal sent
        req = reqs[state["i"] % len(reqs)]
        state["i"] += 1
        c.sock.sendall(req)   # small request on a fresh/drained socket: fits the buffer
        sent += 1

    idle = []          # connections waiting for their next send slot (--rate)
    period = 1.0 / a.rate if a.rate > 0 else 0.0

    def ready(c):
        if period:
            idle.append(c)
        else:
            send_next(c)

    def connect(c):
        if c.sock is not None:
            try:
                sel.unregister(c.sock)
            except (KeyError, ValueError):
                pass
            c.sock.close()
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        s.bind((c.src, 0))
        s.connect(("127.0.0.1", a.port))
        s.setblocking(False)
        c.sock, c.buf, c.need, c.status = s, b"", None, None
        sel.register(s, selectors.EVENT_READ, c)
        ready(c)

    conns = [Conn(sources[i % len(sources)]) for i in range(max(a.conns, len(sources)))]
    t0 = time.monotonic()
    deadline = t0 + a.seconds
    next_t = t0
    for c in conns:
        connect(c)
    while True:
        now = time.monotonic()
        if now >= deadline:
            break
        if period:
            if next_t < now - 0.05:
                next_t = now - 0.05          # no catch-up burst after a stall
            while idle and next_t <= now:
                send_next(idle.pop())
                next_t += period
        timeout = min(0.2, deadline - now)
        if period and idle:
            timeout = max(0.0, min(timeout, next_t - now))
        for key, _ in sel.select(timeout=timeout):
            c = key.data
            try:
                data = c.sock.recv(65536)
            except BlockingIOError:
                continue
            except ConnectionResetError:
                data = b""
            if not data:
                connect(c)
                continue
            c.buf += data
            while True:
                if c.need is None:
                    end = c.buf.find(b"\r\n\r\n")
                    if end < 0:
                        break
                    head = c.buf[:end].decode("latin-1").split("\r\n")
                    c.status = head[0].split(" ")[1]
                    clen, close = 0, False
                    for line in head[1:]:
                        k, _, v = line.partition(":")
                        k = k.strip().lower()
                        if k == "content-length":
                            clen = int(v.strip())
                        elif k == "connection" and "close" in v.lower():
                            close = True
                    c.buf = c.buf[end + 4:]
                    c.need = (clen, close)
                clen, close = c.need
                if len(c.buf) < clen:
                    break
                c.buf = c.buf[clen:]
                c.need = None
                counts[c.status] = counts.get(c.status, 0) + 1
                if close:
                    connect(c)
                else:
                    ready(c)
                break
    elapsed = time.monotonic() - t0
    for c in conns:
        c.sock.close()
    done = sum(counts.values())
    print("requests=%d seconds=%.2f rate=%.0f sources=%d conns=%d %s" % (
        done, elapsed, done / elapsed, len(sources), len(conns),
        " ".join("status_%s=%d" % kv for kv in sorted(counts.items()))))


KERNEL_ENTRY = {"entry_SYSCALL_64_after_hwframe", "do_syscall_64", "asm_exc_page_fault",
                "exc_page_fault"}


def cmd_perfshare(a):
    entry = set(a.entry.split(","))
    stop = set(a.stop.split(",")) if a.stop else set()
    total = token = kernel = 0
    leaves = {}
    entries = {}
    children = {}      # the function the entry called (the frame below it), per token sample

    def account(frames):
        nonlocal total, token, kernel
        if not frames:
            return
        total += 1
        for i, sym in enumerate(frames):
            if sym in stop:
                return
            if sym in entry:
                token += 1
                if any(f in KERNEL_ENTRY for f in frames[:i]):
                    kernel += 1     # a system call (or fault) made by the token code
                leaf = frames[0]
                leaves[leaf] = leaves.get(leaf, 0) + 1
                entries[sym] = entries.get(sym, 0) + 1
                # the innermost entry function and what it called: where the time went
                key = "%s>%s" % (sym, frames[i - 1] if i > 0 else "(self)")
                children[key] = children.get(key, 0) + 1
                return

    frames = []
    with open(a.script, errors="replace") as f:
        for line in f:
            line = line.strip()
            if not line:
                account(frames)
                frames = []
                continue
            parts = line.split(None, 1)
            sym = parts[1] if len(parts) > 1 else "[unknown]"
            if sym.endswith(" (inlined)"):
                sym = sym[: -len(" (inlined)")]
            frames.append(sym)
    account(frames)
    top = sorted(leaves.items(), key=lambda kv: -kv[1])[:8]
    calls = sorted(children.items(), key=lambda kv: -kv[1])[:10]
    print("samples=%d token_samples=%d kernel_samples=%d share=%.4f entries=%s top=%s calls=%s"
          % (total, token, kernel, token / total if total else 0.0,
        ",".join("%s:%d" % kv for kv in sorted(entries.items())),
        ";".join("%s:%d" % kv for kv in top), ";".join("%s:%d" % kv for kv in calls)))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    b = sub.add_parser("bad")
    b.add_argument("--token-file", required=True)
    b.add_argument("--count", type=int, default=20000)
    b.add_argument("--out", required=True)
    f = sub.add_parser("flood")
    f.add_argument("--port", type=int, required=True)
    f.add_argument("--tokens", required=True)
    f.add_argument("--seconds", type=float, required=True)
    f.add_argument("--conns", type=int, default=16)
    f.add_argument("--sources", type=int, default=1)
    f.add_argument("--first-source", default="127.0.1.1")
    f.add_argument("--path", default="/api/status?code=200")
    f.add_argument("--rate", type=float, default=0.0,
                   help="requests per second over all connections (0: flat out)")
    ps = sub.add_parser("perfshare")
    ps.add_argument("--script", required=True)
    ps.add_argument("--entry", required=True)
    ps.add_argument("--stop", default="")
    a = ap.parse_args()
    if a.cmd == "bad":
        cmd_bad(a)
    elif a.cmd == "perfshare":
        cmd_perfshare(a)
    else:
        if not 0 < a.seconds <= 600:
            sys.exit("--seconds must be in (0, 600]")
        cmd_flood(a)


if __name__ == "__main__":
    main()
