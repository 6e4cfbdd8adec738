"""Small helpers for the directory's end-to-end tests (stdlib only): a private redis-server
on a free loopback port with AOF in its own temp dir (stopped by pid), a minimal RESP client,
and a runner for the onegatectl binary."""
import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time

BUILD = os.environ.get("ONEGATE_BUILD_DIR", os.path.join(os.getcwd(), "build"))
SOURCE = os.environ.get("ONEGATE_SOURCE_DIR", os.getcwd())


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def find_ctl():
    for rel in ("gateway/ctl/onegatectl", "onegatectl", "bin/onegatectl"):
        p = os.path.join(BUILD, rel)
        if os.access(p, os.X_OK):
            return p
    raise SystemExit(f"onegatectl not found under {BUILD}")


class Redis:
    """A redis-server of our own: free port, temp dir, appendonly yes."""

    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="og-dirtest-")
        for _ in range(5):
            self.port = free_port()
            self.proc = subprocess.Popen(
                ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1",
                 "--dir", self.dir, "--appendonly", "yes", "--save", "",
                 "--daemonize", "no", "--logfile", os.path.join(self.dir, "redis.log")],
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            deadline = time.time() + 5
            while time.time() < deadline:
                try:
                    self.conn = RespClient(self.port)
                    if self.conn.cmd("PING") == "PONG":
                        return
                except OSError:
                    time.sleep(0.05)
                if self.proc.poll() is not None:
                    break
            self.stop_proc()
        raise RuntimeError("cannot start redis-server")

    def stop_proc(self):
        if self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                os.kill(self.proc.pid, signal.SIGKILL)
                self.proc.wait()

    def stop(self):
        try:
            self.conn.close()
        except Exception:
            pass
        self.stop_proc()
        shutil.rmtree(self.dir, ignore_errors=True)

    def cmd(self, *args):
        return self.conn.cmd(*args)

    def all_keys(self):
        keys, cursor = [], "0"
        while True:
            cursor, batch = self.cmd("SCAN", cursor, "COUNT", "1000")
            keys.extend(batch)
            if cursor in ("0", b"0"):
                return keys

    def dump_everything(self):
        """Every key name and every value byte in the keyspace, as one bytes blob per key."""
        out = {}
        for k in self.all_keys():
            t = self.cmd("TYPE", k)
            if t == "string":
                v = [self.cmd("GET", k)]
            elif t == "hash":
                v = self.cmd("HGETALL", k)
            elif t == "set":
                v = self.cmd("SMEMBERS", k)
            elif t == "zset":
                v = self.cmd("ZRANGE", k, "0", "-1")
            elif t == "list":
                v = self.cmd("LRANGE", k, "0", "-1")
            else:
                v = []
            raw = self.conn.cmd_raw("DUMP", k) or b""
            blob = k.encode() + b"\n" + b"\n".join(
                x if isinstance(x, bytes) else str(x).encode() for x in v) + b"\n" + raw
            out[k] = blob
        return out


class RespClient:
    def __init__(self, port):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=10)
        self.buf = b""

    def close(self):
        self.sock.close()

    def _send(self, args):
        parts = [b"*%d\r\n" % len(args)]
        for a in args:
            if not isinstance(a, bytes):
                a = str(a).encode()
            parts.append(b"$%d\r\n%s\r\n" % (len(a), a))
        self.sock.sendall(b"".join(parts))

    def _line(self):
        while b"\r\n" not in self.buf:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise OSError("redis closed the connection")
            self.buf += chunk
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line

    def _exact(self, n):
        while len(self.buf) < n + 2:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise OSError("redis closed the connection")
            self.buf += chunk
        data, self.buf = self.buf[:n], self.buf[n + 2:]
        return data

    def _reply(self, decode):
        line = self._line()
        t, rest = line[:1], line[1:]
        if t == b"+":
            return rest.decode()
        if t == b"-":
            raise RedisError(rest.decode())
        if t == b":":
            return int(rest)
        if t == b"$":
            n = int(rest)
            if n < 0:
                return None
            data = self._exact(n)
            if decode:
                try:
                    return data.decode()
                except UnicodeDecodeError:
                    return data
            return data
        if t == b"*":
            n = int(rest)
            if n < 0:
                return None
            return [self._reply(decode) for _ in range(n)]
        raise OSError(f"bad RESP line {line!r}")

    def cmd(self, *args):
        self._send(args)
        return self._reply(True)

    def cmd_raw(self, *args):
        self._send(args)
        return self._reply(False)


class RedisError(Exception):
    pass


class Ctl:
    def __init__(self, redis):
        self.exe = find_ctl()
        self.redis = redis

    def run(self, *args, stdin=None, json_out=False, check=True):
        argv = [self.exe, "--redis", f"127.0.0.1:{self.redis.port}"]
        if json_out:
            argv.append("--json")
        argv.extend(args)
        p = subprocess.run(argv, input=stdin, capture_output=True, text=True, timeout=120)
        if check and p.returncode != 0:
            raise AssertionError(f"{' '.join(args)} -> {p.returncode}\n{p.stdout}\n{p.stderr}")
        if json_out and p.returncode == 0:
            return json.loads(p.stdout)
        return p


def run_tests(tests):
    """Runs each test function with a fresh Redis; prints a summary; exits 1 on failure."""
    import traceback
    failed = 0
    for t in tests:
        r = Redis()
        try:
            t(r, Ctl(r))
            print(f"ok   {t.__name__}")
        except Exception:
            failed += 1
            print(f"FAIL {t.__name__}")
            traceback.print_exc()
        finally:
            r.stop()
    print(f"{len(tests) - failed}/{len(tests)} passed")
    raise SystemExit(1 if failed else 0)
