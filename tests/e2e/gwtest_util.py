"""Harness for end-to-end tests of the gateway's own endpoints (admin API, login, sessions,
policy enforcement), stdlib only: a private redis-server (dirtest_util.Redis), two demo portals
(operator and SSP) and onegate with a generated config, all on free loopback ports, each
stopped by its pid. The config is written as JSON, which onegate's YAML loader reads as
flow-style YAML.

    with Stack() as st:
        st.http("GET", "/admin/v1/persons", headers=st.admin_headers())
"""
import copy
import http.client
import json
import os
import signal
import socket
import subprocess
import tempfile
import time

from dirtest_util import BUILD, SOURCE, Ctl, Redis, free_port  # noqa: F401 (re-exported)

ADMIN_TOKEN = "e2e-bootstrap-token-" + "0123456789abcdef" * 2


def find_exe(*rels):
    for rel in rels:
        p = os.path.join(BUILD, rel)
        if os.access(p, os.X_OK):
            return p
    raise SystemExit(f"none of {rels} found under {BUILD}")


def onegate_exe():
    return find_exe("gateway/onegate", "onegate")


def portal_exe():
    return find_exe("deploy/demo-portal/demo-portal", "demo-portal")


def stop_pid(proc, timeout=10):
    """SIGTERM, then SIGKILL after <timeout>; only this process, by its pid."""
    if proc is None or proc.poll() is not None:
        return
    os.kill(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()


class Portal:
    """A demo-portal on a free port; prints its port once ready."""

    def __init__(self, title, other_url=None):
        argv = [portal_exe(), "--listen", "127.0.0.1:0", "--title", title, "--quiet"]
        if other_url:
            argv += ["--other-url", other_url]
        self.proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                                     text=True)
        line = self.proc.stdout.readline()
        if "listening on" not in line:
            stop_pid(self.proc)
            raise RuntimeError(f"demo-portal did not start: {line!r}")
        self.port = int(line.rsplit(":", 1)[1])
        self.addr = f"127.0.0.1:{self.port}"

    def stop(self):
        stop_pid(self.proc)
        if self.proc.stdout:
            self.proc.stdout.close()


def base_config(redis_port, operator_addr, ssp_addr, tmpdir):
    """The example policy (deploy/onegate.example.yaml) with test ports, a bootstrap token and
    cheap argon2id figures (the tests hash many passwords)."""
    token_file = os.path.join(tmpdir, "admin.token")
    with open(token_file, "w") as f:
        f.write(ADMIN_TOKEN + "\n")
    os.chmod(token_file, 0o600)
    person = lambda **kw: dict(kind="person", **kw)  # noqa: E731
    return {
        "workers": 2,
        "listen": ["127.0.0.1:0"],          # replaced by Gateway
        "upstreams": {
            "operator": {"servers": [operator_addr]},
            "ssp": {"servers": [ssp_addr]},
        },
        "roles": ["operator", "application_manager", "incident-management"],
        "scopes": ["incidents.read", "incidents.write"],
        "routes": [
            {"path": "/operator/", "upstream": "operator",
             "access": [{"allow": [person(roles=["operator"])]}]},
            {"path": "/ssp/", "upstream": "ssp",
             "access": [{"methods": ["POST"], "path": "/ssp/requests",
                         "allow": [person(flags=["has_ssp_access", "is_caller"])]},
                        {"allow": [person(flags=["has_ssp_access"])]}]},
            {"path": "/ssp/static/", "upstream": "ssp", "public": True},
            {"path": "/api/", "upstream": "operator",
             "access": [{"methods": ["GET"],
                         "allow": [{"kind": "api_account", "scopes": ["incidents.read"]},
                                   person(roles=["operator"])]}]},
        ],
        "log": {"level": "info", "error_log": os.path.join(tmpdir, "error.log"),
                "access_log": os.path.join(tmpdir, "access.log")},
        "redis": {"address": f"127.0.0.1:{redis_port}", "timeout_ms": 500},
        "admin": {"bootstrap_token_file": token_file},
        "sessions": {
            "insecure_dev_cookies": True,       # plain HTTP on loopback in the tests
            "portals": [{"name": "ssp", "title": "Self-Service Portal", "path": "/ssp/"},
                        {"name": "operator", "title": "Operator portal",
                         "path": "/operator/"}],
        },
        "auth": {"argon2id": {"memory_kib": 8192, "iterations": 1}, "work_threads": 2},
    }


class Gateway:
    """onegate with <config> (a dict) on a free port; ready once /-/live answers."""

    def __init__(self, config, tmpdir):
        self.tmpdir = tmpdir
        self.config = copy.deepcopy(config)
        self.proc = None
        for _ in range(5):
            self.port = free_port()
            self.config["listen"] = [f"127.0.0.1:{self.port}"]
            self.path = os.path.join(tmpdir, "onegate.yaml")
            with open(self.path, "w") as f:
                json.dump(self.config, f, indent=1)
            self.stderr = open(os.path.join(tmpdir, "onegate.stderr"), "ab")
            self.proc = subprocess.Popen([onegate_exe(), "-c", self.path],
                                         stdout=subprocess.DEVNULL, stderr=self.stderr)
            if self._wait_live():
                return
            stop_pid(self.proc)
            self.stderr.close()
        raise RuntimeError("onegate did not start: " + self.log_text())

    def _wait_live(self):
        deadline = time.time() + 10
        while time.time() < deadline:
            if self.proc.poll() is not None:
                return False
            try:
                c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=2)
                c.request("GET", "/-/live")
                if c.getresponse().status == 200:
                    c.close()
                    return True
            except OSError:
                time.sleep(0.05)
        return False

    def log_text(self):
        out = []
        for name in ("onegate.stderr", "error.log"):
            p = os.path.join(self.tmpdir, name)
            if os.path.exists(p):
                with open(p, errors="replace") as f:
                    out.append(f.read())
        return "\n".join(out)

    def reload(self, config):
        """Writes <config> and sends SIGHUP; waits until the log says it was applied."""
        self.config = copy.deepcopy(config)
        self.config["listen"] = [f"127.0.0.1:{self.port}"]
        with open(self.path, "w") as f:
            json.dump(self.config, f, indent=1)
        before = self.log_text().count("configuration reloaded")
        os.kill(self.proc.pid, signal.SIGHUP)
        deadline = time.time() + 5
        while time.time() < deadline:
            if self.log_text().count("configuration reloaded") > before:
                return
            time.sleep(0.05)
        raise RuntimeError("reload not applied: " + self.log_text()[-2000:])

    def stop(self):
        stop_pid(self.proc)
        self.stderr.close()


class Response:
    def __init__(self, status, headers, body):
        self.status = status
        self.headers = headers          # list of (name, value)
        self.body = body

    def header(self, name):
        for k, v in self.headers:
            if k.lower() == name.lower():
                return v
        return None

    def headers_all(self, name):
        return [v for k, v in self.headers if k.lower() == name.lower()]

    def json(self):
        return json.loads(self.body)

    def __repr__(self):
        return f"<{self.status} {self.body[:300]!r}>"


class Stack:
    """redis-server + operator and SSP demo portals + onegate. <config_edit>(cfg) may change
    the generated config before onegate starts."""

    def __init__(self, config_edit=None, start_gateway=True):
        self.tmpdir = tempfile.mkdtemp(prefix="og-gwtest-")
        self.redis = self.operator = self.ssp = self.gw = None
        try:
            self.redis = Redis()
            self.operator = Portal("Operator portal")
            self.ssp = Portal("Self-Service Portal")
            self.config = base_config(self.redis.port, self.operator.addr, self.ssp.addr,
                                      self.tmpdir)
            if config_edit:
                config_edit(self.config)
            if start_gateway:
                self.gw = Gateway(self.config, self.tmpdir)
        except BaseException:
            self.stop()
            raise

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()

    def stop(self):
        for part in (self.gw, self.operator, self.ssp):
            if part:
                part.stop()
        if self.redis:
            self.redis.stop()
        import shutil
        shutil.rmtree(self.tmpdir, ignore_errors=True)

    @property
    def port(self):
        return self.gw.port

    @property
    def origin(self):
        return f"http://127.0.0.1:{self.gw.port}"

    def ctl(self):
        return Ctl(self.redis)

    def admin_headers(self, extra=None):
        h = {"Authorization": "Bearer " + ADMIN_TOKEN}
        if extra:
            h.update(extra)
        return h

    def http(self, method, path, headers=None, body=None, conn=None, host=None):
        """One request; <body> a dict/list is sent as JSON (Content-Type added unless given),
        bytes/str as is. A new connection unless <conn> is given."""
        own = conn is None
        if own:
            conn = http.client.HTTPConnection("127.0.0.1", self.gw.port, timeout=15)
        h = dict(headers or {})
        if host:
            h["Host"] = host
        if isinstance(body, (dict, list)):
            body = json.dumps(body)
            if not any(k.lower() == "content-type" for k in h):
                h["Content-Type"] = "application/json"
        if isinstance(body, str):
            body = body.encode()
        try:
            conn.request(method, path, body=body, headers=h)
            resp = conn.getresponse()
            data = resp.read()
            return Response(resp.status, resp.getheaders(), data)
        finally:
            if own:
                conn.close()

    def admin(self, method, path, body=None, headers=None, query=None):
        """An authenticated admin call; <path> relative to /admin/v1/."""
        url = "/admin/v1/" + path + (("?" + query) if query else "")
        return self.http(method, url, headers=self.admin_headers(headers), body=body)

    def raw(self, data, read_timeout=5.0):
        """Sends raw bytes on a new connection; returns everything read until close/timeout."""
        s = socket.create_connection(("127.0.0.1", self.gw.port), timeout=read_timeout)
        try:
            s.sendall(data)
            out = b""
            while True:
                try:
                    chunk = s.recv(65536)
                except (socket.timeout, ConnectionResetError):
                    break
                if not chunk:
                    break
                out += chunk
            return out
        finally:
            s.close()


def run_tests(tests):
    """Runs each test function (no arguments: each builds the stack it needs); prints a
    summary and exits 1 on failure."""
    import traceback
    failed = 0
    for t in tests:
        t0 = time.time()
        try:
            t()
            print(f"ok   {t.__name__} ({time.time() - t0:.1f}s)", flush=True)
        except Exception:
            failed += 1
            print(f"FAIL {t.__name__}", flush=True)
            traceback.print_exc()
    print(f"{len(tests) - failed}/{len(tests)} passed")
    raise SystemExit(1 if failed else 0)


def redis_restart(redis):
    """Starts <redis> again on its port and data dir after redis.stop_proc() (same AOF)."""
    import dirtest_util
    redis.proc = subprocess.Popen(
        ["redis-server", "--port", str(redis.port), "--bind", "127.0.0.1", "--dir", redis.dir,
         "--appendonly", "yes", "--save", "", "--daemonize", "no",
         "--logfile", os.path.join(redis.dir, "redis.log")],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 10
    while time.time() < deadline:
        try:
            redis.conn = dirtest_util.RespClient(redis.port)
            if redis.conn.cmd("PING") == "PONG":
                return
        except (OSError, dirtest_util.RedisError):      # not up yet, or LOADING the AOF
            time.sleep(0.05)
    raise RuntimeError("redis-server did not restart")
