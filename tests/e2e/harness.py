"""tests/e2e/harness.py — shared machinery for onegate's end-to-end tests (Python 3 stdlib only).

What it gives a test file:
- free ports on 127.0.0.1, a temp dir per test class (Env), processes started with their
  stdout/stderr captured to files in that dir and stopped by pid (SIGTERM, then SIGKILL);
- redis-server (own port, own dir, appendonly yes, --save ""), demo portals, a recording
  upstream (a raw-socket HTTP sink that keeps every byte it received), and onegate started from
  a YAML config written by OnegateConfig (a dict builder mirroring deploy/onegate.example.yaml),
  waited for on /-/ready;
- a raw-socket HTTP/1.1 client (Conn) that frames responses itself (Content-Length, chunked with
  trailers, close-delimited, 1xx, 101), streams bodies into a sink, and tells a closed
  connection from an idle one; WebSocket frame helpers;
- VmRSS sampling from /proc, signals, polling with deadlines;
- E2ECase, a unittest.TestCase base whose setUpClass builds an Env, whose class cleanup stops
  everything even on failure, and which prints the tails of every captured log when a test fails.

Environment: ONEGATE_BUILD_DIR (default <source>/build), ONEGATE_SOURCE_DIR (default two levels
up from this file), ONEGATE_SANITIZED=1 under ASan/UBSan (tests scale sizes and slack with
SANITIZED / SLACK), ONEGATE_E2E_KEEP=1 keeps temp dirs.
"""

import hashlib
import json
import os
import re
import select
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import unittest

# ---------------------------------------------------------------------------------------------
# Locations and scaling

SOURCE_DIR = os.environ.get("ONEGATE_SOURCE_DIR") or os.path.abspath(
    os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
BUILD_DIR = os.environ.get("ONEGATE_BUILD_DIR") or os.path.join(SOURCE_DIR, "build")
ONEGATE_BIN = os.path.join(BUILD_DIR, "gateway", "onegate")
PORTAL_BIN = os.path.join(BUILD_DIR, "deploy", "demo-portal", "demo-portal")
REDIS_BIN = shutil.which("redis-server") or "/usr/bin/redis-server"

SANITIZED = os.environ.get("ONEGATE_SANITIZED") == "1"
# Multiplier for "it must have happened by now" slack (never for the timeouts under test).
SLACK = 4.0 if SANITIZED else 1.0
KEEP_TMP = os.environ.get("ONEGATE_E2E_KEEP") == "1"

# Ports handed out in this process, so two calls never return the same one.
_given_ports = set()
_ports_lock = threading.Lock()


def scaled(normal, sanitized):
    """A size or count: <normal> in the normal build, <sanitized> under ASan/UBSan."""
    return sanitized if SANITIZED else normal


def free_port():
    """A TCP port on 127.0.0.1 that nothing listens on right now and that this process has not
    handed out before."""
    with _ports_lock:
        for _ in range(200):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            try:
                s.bind(("127.0.0.1", 0))
                port = s.getsockname()[1]
            finally:
                s.close()
            if port not in _given_ports:
                _given_ports.add(port)
                return port
    raise RuntimeError("no free port")


def wait_for(pred, timeout, interval=0.05, what="condition"):
    """Polls pred() until it returns a truthy value (returned) or <timeout> seconds pass
    (AssertionError naming <what>)."""
    deadline = time.monotonic() + timeout
    last_exc = None
    while True:
        try:
            v = pred()
            if v:
                return v
        except Exception as e:  # noqa: BLE001 - remembered for the message
            last_exc = e
        if time.monotonic() >= deadline:
            extra = " (last error: %r)" % (last_exc,) if last_exc else ""
            raise AssertionError("timed out after %.1fs waiting for %s%s" % (timeout, what, extra))
        time.sleep(interval)


def port_open(port, host="127.0.0.1"):
    try:
        s = socket.create_connection((host, port), timeout=0.5)
    except OSError:
        return False
    s.close()
    return True


def tail_file(path, nbytes=4000):
    try:
        with open(path, "rb") as f:
            f.seek(0, os.SEEK_END)
            size = f.tell()
            f.seek(max(0, size - nbytes))
            data = f.read()
    except OSError as e:
        return "<%s>" % e
    return data.decode("utf-8", "replace")


# ---------------------------------------------------------------------------------------------
# Processes

class Proc:
    """A child process with stdout/stderr captured to <dir>/<name>.stdout/.stderr."""

    def __init__(self, name, argv, directory, env=None, cwd=None):
        self.name = name
        self.argv = list(argv)
        self.stdout_path = os.path.join(directory, name + ".stdout")
        self.stderr_path = os.path.join(directory, name + ".stderr")
        full_env = dict(os.environ)
        if env:
            full_env.update(env)
        self._out = open(self.stdout_path, "ab")
        self._err = open(self.stderr_path, "ab")
        self.popen = subprocess.Popen(self.argv, stdin=subprocess.DEVNULL, stdout=self._out,
                                      stderr=self._err, env=full_env, cwd=cwd or SOURCE_DIR)
        self.pid = self.popen.pid
        # watch: a long-running service that must neither die on its own nor exit non-zero
        # when stopped (a crash, an ASan report or a leak at exit shows up as a test error)
        self.watch = False
        self.stopped = False
        self.stop_code = None

    def alive(self):
        return self.popen.poll() is None

    def signal(self, sig):
        if sig in (signal.SIGTERM, signal.SIGINT, signal.SIGKILL):
            self.stopped = True
        if self.alive():
            os.kill(self.pid, sig)

    def died(self):
        """True when a watched service exited although nobody asked it to."""
        return self.watch and not self.stopped and not self.alive()

    def wait(self, timeout):
        """Waits for exit; returns the exit code or None if still running after <timeout>."""
        try:
            return self.popen.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            return None

    def stop(self, timeout=5.0):
        """SIGTERM, then SIGKILL after <timeout>; returns the exit code."""
        died_alone = self.died()
        self.stopped = True
        if self.alive():
            try:
                os.kill(self.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
            if self.wait(timeout * SLACK) is None:
                try:
                    os.kill(self.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                self.popen.wait()
        for f in (self._out, self._err):
            try:
                f.close()
            except OSError:
                pass
        if self.stop_code is None:
            self.stop_code = ("died" if died_alone else self.popen.returncode)
        return self.popen.returncode

    def stdout(self):
        with open(self.stdout_path, "rb") as f:
            return f.read().decode("utf-8", "replace")

    def stderr(self):
        with open(self.stderr_path, "rb") as f:
            return f.read().decode("utf-8", "replace")

    def tails(self, nbytes=3000):
        return ("---- %s (pid %d, argv %s) stdout tail:\n%s\n---- %s stderr tail:\n%s\n" % (
            self.name, self.pid, " ".join(self.argv), tail_file(self.stdout_path, nbytes),
            self.name, tail_file(self.stderr_path, nbytes)))

    def rss_kib(self):
        return rss_kib(self.pid)


def rss_kib(pid):
    """VmRSS of <pid> in KiB (from /proc/PID/status)."""
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise RuntimeError("no VmRSS for pid %d" % pid)


class RssSampler:
    """Samples a process's VmRSS every <interval> s in a thread; .max_kib is the peak seen."""

    def __init__(self, pid, interval=0.05):
        self.pid = pid
        self.interval = interval
        self.max_kib = rss_kib(pid)
        self.samples = 0
        self._stop = threading.Event()
        self._t = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        while not self._stop.is_set():
            try:
                v = rss_kib(self.pid)
            except (OSError, RuntimeError):
                return
            self.samples += 1
            if v > self.max_kib:
                self.max_kib = v
            self._stop.wait(self.interval)

    def __enter__(self):
        self._t.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._t.join()
        return False


# ---------------------------------------------------------------------------------------------
# YAML (a small emitter for the config builder: dicts, lists, scalars)

_PLAIN_RE = re.compile(r"^[A-Za-z0-9_/.][A-Za-z0-9_./:\-]*$")
_YAML_SPECIAL = {"true", "false", "yes", "no", "null", "~", "on"}


def _yaml_scalar(v):
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, Raw):
        return v.text
    s = str(v)
    if (_PLAIN_RE.match(s) and not s.endswith(":") and s.lower() not in _YAML_SPECIAL
            and not re.match(r"^[0-9.+-]+$", s)):
        return s
    return json.dumps(s)  # a YAML double-quoted scalar


class Raw:
    """A scalar written into the YAML exactly as given (e.g. Raw("off"))."""

    def __init__(self, text):
        self.text = text


def to_yaml(obj, indent=0):
    pad = " " * indent
    lines = []
    if isinstance(obj, dict):
        for k, v in obj.items():
            if v is None:
                continue
            if isinstance(v, dict):
                if not v:
                    lines.append("%s%s: {}" % (pad, k))
                else:
                    lines.append("%s%s:" % (pad, k))
                    lines.append(to_yaml(v, indent + 2))
            elif isinstance(v, list):
                if not v:
                    lines.append("%s%s: []" % (pad, k))
                elif all(not isinstance(x, (dict, list)) for x in v):
                    lines.append("%s%s: [%s]" % (pad, k, ", ".join(_yaml_scalar(x) for x in v)))
                else:
                    lines.append("%s%s:" % (pad, k))
                    lines.append(to_yaml(v, indent + 2))
            else:
                lines.append("%s%s: %s" % (pad, k, _yaml_scalar(v)))
    elif isinstance(obj, list):
        for item in obj:
            if isinstance(item, dict):
                sub = to_yaml(item, indent + 2).split("\n")
                sub[0] = pad + "- " + sub[0][indent + 2:]
                lines.extend(sub)
            else:
                lines.append("%s- %s" % (pad, _yaml_scalar(item)))
    else:
        lines.append(pad + _yaml_scalar(obj))
    return "\n".join(lines)


class OnegateConfig:
    """Builds onegate's YAML config (the format of deploy/onegate.example.yaml).

        cfg = OnegateConfig(port)                       # listen 127.0.0.1:port, workers 2
        cfg.limits(header_timeout_ms=2000)
        cfg.upstream("operator", ["127.0.0.1:9101"], connect_timeout_ms=500)
        cfg.route("/operator/", "operator", host=None, max_body_bytes=None)
        cfg.data["trusted_proxies"] = ["127.0.0.1/32"]
    Logs default to files in the Env's temp dir (set by Env.onegate) unless given here.
    """

    def __init__(self, port, workers=2):
        self.port = port
        self.data = {
            "workers": workers,
            "listen": ["127.0.0.1:%d" % port],
            "trusted_proxies": [],
            "builtin_prefix": "/-/",
            "server_name": "onegate",
            "limits": {},
            "upstreams": {},
            "routes": [],
            "log": {"level": "info"},
        }

    def limits(self, **kw):
        self.data["limits"].update(kw)
        return self

    def upstream(self, name, servers, **opts):
        u = {"servers": list(servers)}
        u.update(opts)
        self.data["upstreams"][name] = u
        return self

    def route(self, path, upstream, host=None, max_body_bytes=None, public=True):
        r = {}
        if host is not None:
            r["host"] = host
        r["path"] = path
        r["upstream"] = upstream
        if max_body_bytes is not None:
            r["max_body_bytes"] = max_body_bytes
        if public:
            r["public"] = True      # the proxy tests need no identity (the policy denies by default)
        self.data["routes"].append(r)
        return self

    def log(self, **kw):
        self.data["log"].update(kw)
        return self

    def yaml(self):
        d = dict(self.data)
        if not d["limits"]:
            d.pop("limits")
        return "# written by tests/e2e/harness.py\n" + to_yaml(d) + "\n"

    def write(self, path):
        tmp = path + ".tmp"
        with open(tmp, "w") as f:
            f.write(self.yaml())
        os.replace(tmp, path)  # atomic: a SIGHUP never sees half a file
        return path


def onegate_run_argv(config_path):
    """The command line that runs onegate on <config_path>."""
    return [ONEGATE_BIN, "--config", config_path]


# ---------------------------------------------------------------------------------------------
# Services

class Portal:
    def __init__(self, proc, port, title):
        self.proc = proc
        self.port = port
        self.title = title
        self.addr = "127.0.0.1:%d" % port


class Onegate:
    def __init__(self, proc, config, config_path):
        self.proc = proc
        self.config = config
        self.config_path = config_path
        self.port = config.port
        self.access_log = config.data["log"].get("access_log")
        self.error_log = config.data["log"].get("error_log")

    @property
    def pid(self):
        return self.proc.pid

    def reload(self, config=None):
        """Rewrites the config file (if given) and sends SIGHUP."""
        if config is not None:
            self.config = config
            config.write(self.config_path)
        self.proc.signal(signal.SIGHUP)

    def access_lines(self):
        """Parsed JSON lines of the access log so far (non-JSON lines are skipped)."""
        path = self.access_log
        if not isinstance(path, str) or path in ("stdout", "off"):
            text = self.proc.stdout()
        else:
            try:
                with open(path, "rb") as f:
                    text = f.read().decode("utf-8", "replace")
            except FileNotFoundError:
                return []
        out = []
        for line in text.splitlines():
            line = line.strip()
            if line.startswith("{"):
                try:
                    out.append(json.loads(line))
                except ValueError:
                    pass
        return out

    def error_log_text(self):
        path = self.error_log
        if not isinstance(path, str) or path == "stderr":
            return self.proc.stderr()
        try:
            with open(path, "rb") as f:
                return f.read().decode("utf-8", "replace")
        except FileNotFoundError:
            return ""


class Redis:
    def __init__(self, proc, port, directory):
        self.proc = proc
        self.port = port
        self.dir = directory
        self.addr = "127.0.0.1:%d" % port

    def cmd(self, *args):
        return redis_cmd(self.port, *args)


def redis_cmd(port, *args, timeout=5.0):
    """One RESP command on a fresh connection; returns the decoded reply (str/int/list/None);
    an error reply raises RuntimeError."""
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    try:
        out = b"*%d\r\n" % len(args)
        for a in args:
            a = a if isinstance(a, bytes) else str(a).encode()
            out += b"$%d\r\n%s\r\n" % (len(a), a)
        s.sendall(out)
        f = s.makefile("rb")

        def parse():
            line = f.readline()
            if not line:
                raise ConnectionError("redis closed")
            t, rest = line[:1], line[1:-2]
            if t == b"+":
                return rest.decode()
            if t == b"-":
                raise RuntimeError(rest.decode())
            if t == b":":
                return int(rest)
            if t == b"$":
                n = int(rest)
                if n < 0:
                    return None
                data = f.read(n + 2)[:-2]
                return data.decode("utf-8", "replace")
            if t == b"*":
                n = int(rest)
                return None if n < 0 else [parse() for _ in range(n)]
            raise RuntimeError("bad RESP %r" % line)
        return parse()
    finally:
        s.close()


class RecordingUpstream:
    """A plain HTTP/1.1 upstream made of raw sockets that records every byte it receives, per
    connection, and answers each complete request (Content-Length or chunked body) with
    "200 rec" (X-Rec-Count: requests so far). Used where a test must prove what did, or did
    not, reach an upstream."""

    def __init__(self):
        self.port = free_port()
        self.addr = "127.0.0.1:%d" % self.port
        self.lock = threading.Lock()
        self.connections = []   # list of bytearray, raw bytes per accepted connection
        self.requests = []      # (request line, headers dict lower-case, body bytes)
        self._lsock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._lsock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._lsock.bind(("127.0.0.1", self.port))
        self._lsock.listen(64)
        self._lsock.settimeout(0.2)
        self._stop = threading.Event()
        self._threads = []
        t = threading.Thread(target=self._accept_loop, daemon=True)
        t.start()
        self._threads.append(t)

    def request_count(self):
        with self.lock:
            return len(self.requests)

    def connection_count(self):
        with self.lock:
            return len(self.connections)

    def all_bytes(self):
        with self.lock:
            return b"".join(bytes(c) for c in self.connections)

    def _accept_loop(self):
        while not self._stop.is_set():
            try:
                s, _ = self._lsock.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            buf = bytearray()
            with self.lock:
                self.connections.append(buf)
            t = threading.Thread(target=self._serve, args=(s, buf), daemon=True)
            t.start()
            self._threads.append(t)

    def _serve(self, s, raw):
        s.settimeout(0.2)
        pending = bytearray()
        try:
            while not self._stop.is_set():
                try:
                    data = s.recv(65536)
                except socket.timeout:
                    continue
                if not data:
                    return
                with self.lock:
                    raw.extend(data)
                pending.extend(data)
                while True:
                    req = _parse_one_request(pending)
                    if req is None:
                        break
                    used, line, headers, body = req
                    del pending[:used]
                    with self.lock:
                        self.requests.append((line, headers, body))
                        n = len(self.requests)
                    msg = b"rec"
                    s.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nX-Rec-Count: %d\r\n"
                              b"Content-Length: %d\r\n\r\n%s" % (n, len(msg), msg))
        except OSError:
            return
        finally:
            s.close()

    def close(self):
        self._stop.set()
        try:
            self._lsock.close()
        except OSError:
            pass
        for t in self._threads:
            t.join(2)


class Blackhole:
    """A loopback address where TCP connects hang (no SYN-ACK): a listening socket with
    backlog 0 whose accept queue is filled and never accepted. Linux drops SYNs to a listener
    with a full accept queue, so a connect() to it only times out. Checked on creation."""

    def __init__(self):
        self.port = free_port()
        self.addr = "127.0.0.1:%d" % self.port
        self._l = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._l.bind(("127.0.0.1", self.port))
        self._l.listen(0)
        self._fill = []
        for _ in range(4):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.setblocking(False)
            s.connect_ex(("127.0.0.1", self.port))
            self._fill.append(s)
        time.sleep(0.1)
        probe = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        probe.settimeout(0.5)
        try:
            probe.connect(("127.0.0.1", self.port))
            raise RuntimeError("blackhole port %d accepted a connection" % self.port)
        except socket.timeout:
            pass
        finally:
            probe.close()

    def close(self):
        for s in self._fill:
            s.close()
        self._l.close()


def _parse_one_request(buf):
    """(bytes used, request line, headers, body) of the first complete request in <buf>, or
    None when incomplete. Lenient on purpose: it records, it does not judge."""
    end = buf.find(b"\r\n\r\n")
    if end < 0:
        return None
    head = bytes(buf[:end]).decode("latin-1")
    lines = head.split("\r\n")
    headers = {}
    for ln in lines[1:]:
        if ":" in ln:
            k, v = ln.split(":", 1)
            headers.setdefault(k.strip().lower(), v.strip())
    pos = end + 4
    if "chunked" in headers.get("transfer-encoding", "").lower():
        body = bytearray()
        while True:
            e = buf.find(b"\r\n", pos)
            if e < 0:
                return None
            size = int(bytes(buf[pos:e]).split(b";")[0].strip() or b"0", 16)
            pos = e + 2
            if size == 0:
                # trailers until empty line
                while True:
                    e = buf.find(b"\r\n", pos)
                    if e < 0:
                        return None
                    if e == pos:
                        return pos + 2, lines[0], headers, bytes(body)
                    pos = e + 2
            if len(buf) < pos + size + 2:
                return None
            body.extend(buf[pos:pos + size])
            pos += size + 2
    n = int(headers.get("content-length", "0") or 0)
    if len(buf) < pos + n:
        return None
    return pos + n, lines[0], headers, bytes(buf[pos:pos + n])


class Env:
    """Everything one test class starts: a temp dir and processes, all stopped by cleanup()."""

    def __init__(self, name):
        self.name = name
        self.dir = tempfile.mkdtemp(prefix="onegate-e2e-%s-" % name)
        self.procs = []
        self.services = []   # Portal and Onegate objects, for restart_dead()
        self.closers = []
        self.failed = False
        self._n = 0

    def _next(self, what):
        self._n += 1
        return "%s%d" % (what, self._n)

    def start(self, name, argv, env=None):
        p = Proc(name, argv, self.dir, env=env)
        self.procs.append(p)
        return p

    def redis(self):
        port = free_port()
        d = os.path.join(self.dir, self._next("redis"))
        os.makedirs(d)
        p = self.start(os.path.basename(d), [
            REDIS_BIN, "--port", str(port), "--bind", "127.0.0.1", "--dir", d,
            "--appendonly", "yes", "--save", "", "--daemonize", "no", "--logfile", ""])

        def ready():
            if not p.alive():
                raise AssertionError("redis-server exited:\n" + p.tails())
            return redis_cmd(port, "PING", timeout=0.5) == "PONG"
        wait_for(ready, 10 * SLACK, what="redis-server on port %d" % port)
        return Redis(p, port, d)

    def portal(self, title, threads=None, extra=()):
        if not os.path.exists(PORTAL_BIN):
            raise AssertionError("demo-portal not built: %s (set ONEGATE_BUILD_DIR)" % PORTAL_BIN)
        port = free_port()
        argv = [PORTAL_BIN, "--listen", "127.0.0.1:%d" % port, "--title", title, "--quiet"]
        if threads:
            argv += ["--threads", str(threads)]
        argv += list(extra)
        p = self.start(self._next("portal"), argv)
        p.watch = True

        def ready():
            if not p.alive():
                raise AssertionError("demo-portal exited:\n" + p.tails())
            return "listening on" in p.stdout() and port_open(port)
        wait_for(ready, 10 * SLACK, what="demo-portal on port %d" % port)
        portal = Portal(p, port, title)
        self.services.append(portal)
        return portal

    def portals(self, n, title_prefix="Portal"):
        """<n> demo portals titled "<prefix> 1".. "<prefix> n"."""
        return [self.portal("%s %d" % (title_prefix, i + 1)) for i in range(n)]

    def recorder(self):
        r = RecordingUpstream()
        self.closers.append(r.close)
        return r

    def blackhole(self):
        b = Blackhole()
        self.closers.append(b.close)
        return b

    def onegate_config(self, workers=2):
        """A fresh config on a free port, logs in this Env's dir."""
        cfg = OnegateConfig(free_port(), workers=workers)
        tag = self._next("og")
        cfg.log(error_log=os.path.join(self.dir, tag + ".error.log"),
                access_log=os.path.join(self.dir, tag + ".access.log"))
        return cfg

    def write_config(self, cfg, name=None):
        path = os.path.join(self.dir, (name or self._next("config")) + ".yaml")
        cfg.write(path)
        return path

    def onegate(self, cfg, wait_ready=True, env=None):
        if not os.path.exists(ONEGATE_BIN):
            raise AssertionError("onegate not built: %s (set ONEGATE_BUILD_DIR)" % ONEGATE_BIN)
        path = self.write_config(cfg)
        run_env = dict(env or {})
        if SANITIZED:
            # ASan's quarantine keeps freed memory resident: keep it small so that RSS
            # measurements mean what they say.
            opts = os.environ.get("ASAN_OPTIONS", "")
            run_env.setdefault("ASAN_OPTIONS", (opts + ":" if opts else "")
                               + "quarantine_size_mb=8:thread_local_quarantine_size_kb=256")
        p = self.start(self._next("onegate"), onegate_run_argv(path), env=run_env)
        p.watch = True
        p.run_env = run_env
        og = Onegate(p, cfg, path)
        self.services.append(og)
        if wait_ready:
            wait_ready_onegate(og)
        return og

    def restart_dead(self):
        """Starts again, on the same port and arguments, every portal or onegate of this Env
        that died on its own, so that one crash does not fail every later test of the class.
        The dead process stays recorded (its test and the class cleanup still fail).
        Returns the names of the restarted services."""
        names = []
        for svc in self.services:
            old = svc.proc
            if not (old.died() or old.stop_code == "died"):
                continue
            old.stop_code = "died"
            old.stopped = True     # reported once; the class cleanup reports it again
            p = self.start(self._next(old.name.rstrip("0123456789") or "svc"), old.argv,
                           env=getattr(old, "run_env", None))
            p.watch = True
            p.run_env = getattr(old, "run_env", None)
            svc.proc = p
            names.append("%s -> %s" % (old.name, p.name))
            if isinstance(svc, Onegate):
                wait_ready_onegate(svc)
            else:
                wait_for(lambda: port_open(svc.port), 10 * SLACK, what="%s restarted" % p.name)
        return names

    def dump(self):
        """Prints the tail of every captured output and log file, only what was added since
        the previous dump (so a run with many failures stays readable)."""
        if not hasattr(self, "_dumped"):
            self._dumped = {}
        sys.stderr.write("\n==== e2e logs (%s) in %s, new since the last dump ====\n"
                         % (self.name, self.dir))
        names = {}
        for p in self.procs:
            names[p.stdout_path] = "%s (pid %d) stdout" % (p.name, p.pid)
            names[p.stderr_path] = "%s (pid %d) stderr" % (p.name, p.pid)
        for fn in sorted(os.listdir(self.dir)):
            if fn.endswith(".log"):
                names[os.path.join(self.dir, fn)] = fn
        for path, label in names.items():
            try:
                size = os.path.getsize(path)
            except OSError:
                continue
            start = self._dumped.get(path, 0)
            if size <= start:
                continue
            self._dumped[path] = size
            with open(path, "rb") as f:
                f.seek(max(start, size - 3000))
                data = f.read().decode("utf-8", "replace")
            sys.stderr.write("---- %s:\n%s\n" % (label, data))
        sys.stderr.flush()

    def cleanup(self):
        for c in reversed(self.closers):
            try:
                c()
            except Exception:  # noqa: BLE001
                pass
        bad = []
        for p in reversed(self.procs):
            p.stop()
            if p.watch and p.stop_code not in (0, None):
                bad.append(p)
        if bad:
            self.failed = True
        if self.failed or KEEP_TMP:
            sys.stderr.write("e2e: keeping %s\n" % self.dir)
        else:
            shutil.rmtree(self.dir, ignore_errors=True)
        if bad:
            raise AssertionError("service(s) did not exit cleanly: " + "; ".join(
                "%s %s (exit %s):\n%s" % (p.name, p.pid, p.stop_code, tail_file(p.stderr_path, 6000))
                for p in bad))

    def check_alive(self):
        """AssertionError naming every watched service that died on its own."""
        dead = [p for p in self.procs if p.died()]
        if dead:
            for p in dead:
                p.stop_code = "died"
                p.stopped = True
            raise AssertionError("service(s) died during the test: " + "; ".join(
                "%s pid %d exit %s:\n%s" % (p.name, p.pid, p.popen.returncode,
                                            tail_file(p.stderr_path, 6000)) for p in dead))


def wait_ready_onegate(og, timeout=None):
    """Polls GET <prefix>ready until 200, failing early if onegate exits."""
    prefix = og.config.data.get("builtin_prefix", "/-/")

    def ready():
        if not og.proc.alive():
            raise AssertionError("onegate exited with %s:\n%s" % (og.proc.popen.returncode,
                                                                   og.proc.tails()))
        try:
            r = request(og.port, "GET", prefix + "ready", timeout=2)
        except OSError:
            return False
        return r.status == 200
    try:
        wait_for(ready, timeout or 15 * SLACK, what="onegate /-/ready on %d" % og.port)
    except AssertionError as e:
        if not og.proc.alive():
            raise
        raise AssertionError(str(e) + "\n" + og.proc.tails())


# ---------------------------------------------------------------------------------------------
# Raw HTTP/1.1 client

class ConnectionClosed(Exception):
    """The peer closed the connection before a complete response."""


class Response:
    def __init__(self):
        self.version = None
        self.status = None
        self.reason = None
        self.headers = []       # [(name, value)] as received
        self.body = b""
        self.body_len = 0
        self.framing = None     # "length", "chunked", "close", "none"
        self.trailers = []
        self.raw_head = b""
        self.interim = []       # 1xx responses seen before this one (Response objects)

    def header(self, name, default=None):
        n = name.lower()
        for k, v in self.headers:
            if k.lower() == n:
                return v
        return default

    def header_all(self, name):
        n = name.lower()
        return [v for k, v in self.headers if k.lower() == n]

    def has(self, name):
        return self.header(name) is not None

    def json(self):
        return json.loads(self.body.decode("utf-8"))

    def text(self):
        return self.body.decode("utf-8", "replace")

    def __repr__(self):
        return "<Response %s %s %r body=%d>" % (self.status, self.reason, self.headers,
                                                 self.body_len)


def build_request(method, path, headers=None, body=None, host="localhost", version="HTTP/1.1"):
    """Bytes of a request. <headers>: list of (name, value) or dict; Host is added unless
    given; Content-Length is added for a bytes body unless a framing header is given."""
    hl = list(headers.items()) if isinstance(headers, dict) else list(headers or [])
    names = {k.lower() for k, _ in hl}
    if "host" not in names and host is not None:
        hl.insert(0, ("Host", host))
    if body is not None and "content-length" not in names and "transfer-encoding" not in names:
        hl.append(("Content-Length", str(len(body))))
    out = ["%s %s %s\r\n" % (method, path, version)]
    out += ["%s: %s\r\n" % (k, v) for k, v in hl]
    out.append("\r\n")
    data = "".join(out).encode("latin-1")
    if body is not None:
        data += body
    return data


def chunked(pieces, trailers=None, ext=False):
    """Chunked encoding of an iterable of bytes (an empty piece is skipped)."""
    out = bytearray()
    for p in pieces:
        if not p:
            continue
        out += b"%x%s\r\n" % (len(p), b";ext=1" if ext else b"")
        out += p + b"\r\n"
    out += b"0\r\n"
    for k, v in (trailers or []):
        out += ("%s: %s\r\n" % (k, v)).encode()
    out += b"\r\n"
    return bytes(out)


class Conn:
    """One client TCP connection with its own read buffer (so pipelined responses and
    WebSocket frames are read exactly)."""

    def __init__(self, port, host="127.0.0.1", timeout=10.0):
        self.port = port
        self.timeout = timeout * SLACK
        self.sock = socket.create_connection((host, port), timeout=self.timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buf = bytearray()
        self.eof = False

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False

    def send(self, data):
        self.sock.sendall(data)

    def settimeout(self, t):
        self.sock.settimeout(t)

    def _fill(self, n=65536):
        """Reads more bytes into buf; returns False at EOF (a reset counts as EOF)."""
        if self.eof:
            return False
        try:
            data = self.sock.recv(n)
        except (ConnectionResetError, BrokenPipeError):
            data = b""
        if not data:
            self.eof = True
            return False
        self.buf += data
        return True

    def read_exact(self, n):
        while len(self.buf) < n:
            if not self._fill():
                raise ConnectionClosed("closed after %d of %d bytes" % (len(self.buf), n))
        out = bytes(self.buf[:n])
        del self.buf[:n]
        return out

    def read_line(self, limit=1 << 20):
        while True:
            i = self.buf.find(b"\r\n")
            if i >= 0:
                out = bytes(self.buf[:i])
                del self.buf[:i + 2]
                return out
            if len(self.buf) > limit:
                raise AssertionError("line longer than %d" % limit)
            if not self._fill():
                raise ConnectionClosed("closed inside a line: %r" % bytes(self.buf[:200]))

    def read_head(self):
        """(raw head bytes without the final CRLFCRLF)."""
        start = 0
        while True:
            i = self.buf.find(b"\r\n\r\n", start)
            if i >= 0:
                head = bytes(self.buf[:i])
                del self.buf[:i + 4]
                return head
            start = max(0, len(self.buf) - 3)
            if len(self.buf) > 1 << 20:
                raise AssertionError("response head over 1 MiB")
            if not self._fill():
                if self.buf:
                    raise ConnectionClosed("closed inside a response head: %r"
                                           % bytes(self.buf[:300]))
                raise ConnectionClosed("closed before any response")

    def read_response(self, method="GET", sink=None, interim=False):
        """Reads one response. 1xx other than 101 are collected in .interim (or returned
        alone when <interim> is True). <sink>(bytes) receives the body instead of .body."""
        seen = []
        while True:
            r = self._read_one(method, sink)
            if 100 <= r.status < 200 and r.status != 101:
                if interim:
                    return r
                seen.append(r)
                continue
            r.interim = seen
            return r

    def _read_one(self, method, sink):
        r = Response()
        head = self.read_head()
        r.raw_head = head
        lines = head.split(b"\r\n")
        m = re.match(rb"^(HTTP/\d\.\d) (\d{3})(?: (.*))?$", lines[0])
        if not m:
            raise AssertionError("bad status line %r" % lines[0])
        r.version = m.group(1).decode()
        r.status = int(m.group(2))
        r.reason = (m.group(3) or b"").decode("latin-1")
        for ln in lines[1:]:
            if b":" not in ln or ln[:1] in (b" ", b"\t"):
                raise AssertionError("malformed response header line %r" % ln)
            k, v = ln.split(b":", 1)
            if k != k.strip():
                raise AssertionError("whitespace in response header name %r" % ln)
            r.headers.append((k.decode("latin-1"), v.strip().decode("latin-1")))
        if 100 <= r.status < 200 or r.status in (204, 304) or method == "HEAD":
            r.framing = "none"
            return r
        body = bytearray() if sink is None else None

        def emit(data):
            r.body_len += len(data)
            if sink is None:
                body.extend(data)
            else:
                sink(data)

        te = r.header("Transfer-Encoding")
        cls = r.header_all("Content-Length")
        if te is not None:
            if cls:
                raise AssertionError("response with both Transfer-Encoding and Content-Length")
            if te.strip().lower() != "chunked":
                raise AssertionError("unexpected response Transfer-Encoding %r" % te)
            r.framing = "chunked"
            while True:
                line = self.read_line()
                size_txt = line.split(b";")[0].strip()
                if not re.match(rb"^[0-9a-fA-F]+$", size_txt):
                    raise AssertionError("bad chunk size line %r" % line)
                size = int(size_txt, 16)
                if size == 0:
                    while True:
                        t = self.read_line()
                        if not t:
                            break
                        k, _, v = t.partition(b":")
                        r.trailers.append((k.decode("latin-1"), v.strip().decode("latin-1")))
                    break
                left = size
                while left:
                    if not self.buf and not self._fill(min(1 << 20, max(left, 65536))):
                        raise ConnectionClosed("closed inside a chunk")
                    take = min(left, len(self.buf))
                    emit(bytes(self.buf[:take]))
                    del self.buf[:take]
                    left -= take
                if self.read_line() != b"":
                    raise AssertionError("chunk not followed by CRLF")
        elif cls:
            if len(set(cls)) != 1 or not re.match(r"^\d+$", cls[0]):
                raise AssertionError("bad response Content-Length %r" % cls)
            left = int(cls[0])
            r.framing = "length"
            while left:
                if not self.buf and not self._fill(min(1 << 20, max(left, 65536))):
                    raise ConnectionClosed("closed with %d body bytes missing" % left)
                take = min(left, len(self.buf))
                emit(bytes(self.buf[:take]))
                del self.buf[:take]
                left -= take
        else:
            r.framing = "close"
            while True:
                if self.buf:
                    emit(bytes(self.buf))
                    self.buf.clear()
                if not self._fill(1 << 20):
                    break
        if sink is None:
            r.body = bytes(body)
        return r

    def request(self, method, path, headers=None, body=None, host="localhost", sink=None):
        self.send(build_request(method, path, headers, body, host))
        return self.read_response(method=method, sink=sink)

    def wait_closed(self, timeout):
        """True once the peer has closed (EOF or reset) within <timeout> seconds; bytes that
        arrive meanwhile are kept in buf. False if still open at the deadline."""
        if self.eof:
            return True
        deadline = time.monotonic() + timeout
        try:
            while True:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self.sock.settimeout(left)
                try:
                    if not self._fill():
                        return True
                except socket.timeout:
                    return False
        finally:
            self.sock.settimeout(self.timeout)

    def is_open_now(self):
        """True when the socket has neither EOF nor an error pending (non-blocking check)."""
        if self.eof:
            return False
        r, _, _ = select.select([self.sock], [], [], 0)
        if not r:
            return True
        return self._fill() or False


def request(port, method, path, headers=None, body=None, host="localhost", timeout=10.0,
            sink=None):
    """One request on a fresh connection, closed afterwards."""
    with Conn(port, timeout=timeout) as c:
        return c.request(method, path, headers, body, host, sink=sink)


def get_json(port, path, headers=None, host="localhost"):
    r = request(port, "GET", path, headers=headers, host=host)
    if r.status != 200:
        raise AssertionError("GET %s -> %s %r" % (path, r.status, r.body[:300]))
    return r.json()


def echo_header(echo, name):
    """First value of header <name> in a demo-portal echo JSON, or None."""
    n = name.lower()
    for k, v in echo["headers"]:
        if k.lower() == n:
            return v
    return None


def echo_header_all(echo, name):
    n = name.lower()
    return [v for k, v in echo["headers"] if k.lower() == n]


# ---------------------------------------------------------------------------------------------
# Bodies

def pattern_block(nbytes):
    """The demo portal's download pattern (byte i = i % 251) for offsets 0..nbytes-1."""
    unit = bytes(i % 251 for i in range(251))
    reps = nbytes // 251 + 1
    return (unit * reps)[:nbytes]


# A block whose length is a multiple of 251, so consecutive copies continue the pattern.
_PATTERN_UNIT = pattern_block(251 * 4096)


def pattern_chunks(total):
    """Yields the download pattern for <total> bytes in ~1 MiB pieces (never all at once)."""
    left = total
    while left > 0:
        n = min(left, len(_PATTERN_UNIT))
        yield _PATTERN_UNIT if n == len(_PATTERN_UNIT) else _PATTERN_UNIT[:n]
        left -= n


def pattern_sha256(total):
    h = hashlib.sha256()
    for piece in pattern_chunks(total):
        h.update(piece)
    return h.hexdigest()


# ---------------------------------------------------------------------------------------------
# WebSocket (RFC 6455) helpers

WS_GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"


def ws_accept_for(key):
    import base64
    return base64.b64encode(hashlib.sha1((key + WS_GUID).encode()).digest()).decode()


def ws_frame(opcode, payload, mask=True, fin=True):
    b0 = (0x80 if fin else 0) | opcode
    n = len(payload)
    if n < 126:
        hdr = bytes([b0, (0x80 if mask else 0) | n])
    elif n < 65536:
        hdr = bytes([b0, (0x80 if mask else 0) | 126]) + n.to_bytes(2, "big")
    else:
        hdr = bytes([b0, (0x80 if mask else 0) | 127]) + n.to_bytes(8, "big")
    if not mask:
        return hdr + payload
    key = os.urandom(4)
    masked = bytes(b ^ key[i % 4] for i, b in enumerate(payload))
    return hdr + key + masked


def ws_read_frame(conn):
    """(fin, opcode, payload, masked) of the next frame on <conn> (a Conn)."""
    h = conn.read_exact(2)
    fin = bool(h[0] & 0x80)
    opcode = h[0] & 0x0F
    masked = bool(h[1] & 0x80)
    n = h[1] & 0x7F
    if n == 126:
        n = int.from_bytes(conn.read_exact(2), "big")
    elif n == 127:
        n = int.from_bytes(conn.read_exact(8), "big")
    key = conn.read_exact(4) if masked else None
    payload = conn.read_exact(n)
    if masked:
        payload = bytes(b ^ key[i % 4] for i, b in enumerate(payload))
    return fin, opcode, payload, masked


# ---------------------------------------------------------------------------------------------
# Prometheus text format

_SAMPLE_RE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})?\s+(\S+)(\s+-?\d+)?$')
_LABEL_RE = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')


def parse_prometheus(text):
    """[(name, {label: value}, float)] of every sample; raises AssertionError on a line that
    is neither a comment, blank, nor a valid sample."""
    out = []
    for line in text.splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        m = _SAMPLE_RE.match(line.strip())
        if not m:
            raise AssertionError("not a Prometheus sample line: %r" % line)
        labels = dict(_LABEL_RE.findall(m.group(3) or ""))
        v = m.group(4)
        value = float("inf") if v == "+Inf" else float("-inf") if v == "-Inf" else float(v)
        out.append((m.group(1), labels, value))
    return out


# ---------------------------------------------------------------------------------------------
# Test case base

class E2ECase(unittest.TestCase):
    """Base class: subclasses implement setUpEnv(cls, env) (a classmethod) to start what they
    need in cls.env. Everything is stopped after the class, even when setUpEnv fails; when a
    test fails, the tails of every captured log are printed."""

    env = None

    @classmethod
    def setUpClass(cls):
        cls.env = Env(cls.__name__)
        cls.addClassCleanup(cls.env.cleanup)
        try:
            cls.setUpEnv(cls.env)
        except unittest.SkipTest:
            raise
        except BaseException:
            cls.env.failed = True
            cls.env.dump()
            raise

    @classmethod
    def setUpEnv(cls, env):
        pass

    def setUp(self):
        if self.env is not None:
            restarted = self.env.restart_dead()
            if restarted:
                sys.stderr.write("\ne2e: restarted after an earlier crash: %s\n"
                                 % ", ".join(restarted))

    def tearDown(self):
        if self.env is not None:
            self.env.check_alive()

    def run(self, result=None):
        if result is None:
            return super().run(result)
        before = len(result.failures) + len(result.errors)
        out = super().run(result)
        if len(result.failures) + len(result.errors) > before and self.env is not None:
            self.env.failed = True
            self.env.dump()
        return out


def main():
    unittest.main(verbosity=2)
