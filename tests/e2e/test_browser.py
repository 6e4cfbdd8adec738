#!/usr/bin/env python3
"""End-to-end in a real browser: headless Chromium (Debian's `chromium`) logs in on the SSP
through onegate's login form, then opens the operator portal with the same cookie (no second
login), reads whoami, logs out, and is sent back to the login page. Driven over the DevTools
protocol with a small stdlib WebSocket client. Skipped, with a message, when
/usr/bin/chromium is not installed (tests/run.sh installs it where it can)."""
import base64
import json
import os
import shutil
import socket
import struct
import subprocess
import sys
import tempfile
import time
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from gwtest_util import Stack, free_port, stop_pid  # noqa: E402
from test_login_sessions import PW, person  # noqa: E402

CHROMIUM = os.environ.get("ONEGATE_CHROMIUM", "/usr/bin/chromium")


class WS:
    """Just enough RFC 6455 for the DevTools protocol: masked text frames out, text in."""

    def __init__(self, url):
        assert url.startswith("ws://")
        hostport, _, path = url[5:].partition("/")
        host, port = hostport.split(":")
        self.s = socket.create_connection((host, int(port)), timeout=30)
        key = base64.b64encode(os.urandom(16)).decode()
        self.s.sendall((f"GET /{path} HTTP/1.1\r\nHost: {hostport}\r\nUpgrade: websocket\r\n"
                        f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
                        "Sec-WebSocket-Version: 13\r\n\r\n").encode())
        head = b""
        while b"\r\n\r\n" not in head:
            head += self.s.recv(1)
        assert head.startswith(b"HTTP/1.1 101"), head
        self.next_id = 0

    def _recv_exact(self, n):
        b = b""
        while len(b) < n:
            chunk = self.s.recv(n - len(b))
            if not chunk:
                raise OSError("devtools closed")
            b += chunk
        return b

    def send(self, text):
        data = text.encode()
        hdr = bytes([0x81])
        n = len(data)
        if n < 126:
            hdr += bytes([0x80 | n])
        elif n < 65536:
            hdr += bytes([0x80 | 126]) + struct.pack(">H", n)
        else:
            hdr += bytes([0x80 | 127]) + struct.pack(">Q", n)
        mask = os.urandom(4)
        self.s.sendall(hdr + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(data)))

    def recv(self):
        msg = b""
        while True:
            b0, b1 = self._recv_exact(2)
            n = b1 & 0x7f
            if n == 126:
                n = struct.unpack(">H", self._recv_exact(2))[0]
            elif n == 127:
                n = struct.unpack(">Q", self._recv_exact(8))[0]
            msg += self._recv_exact(n)
            if b0 & 0x80:
                return msg.decode()

    def call(self, method, **params):
        self.next_id += 1
        self.send(json.dumps({"id": self.next_id, "method": method, "params": params}))
        while True:
            m = json.loads(self.recv())
            if m.get("id") == self.next_id:
                if "error" in m:
                    raise RuntimeError(m["error"])
                return m.get("result", {})

    def eval(self, expr):
        r = self.call("Runtime.evaluate", expression=expr, awaitPromise=True, returnByValue=True)
        return r.get("result", {}).get("value")


def wait_for(ws, expr, timeout=10):
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            v = ws.eval(expr)
            if v:
                return v
        except (RuntimeError, OSError):
            pass
        time.sleep(0.1)
    try:
        where = ws.eval("location.href + ' | ' + document.title + ' | ' + "
                        "(document.body ? document.body.innerText.slice(0, 300) : '')")
    except (RuntimeError, OSError) as e:
        where = f"(page not readable: {e})"
    raise AssertionError(f"timed out waiting for {expr}; the page is: {where}")


def test_login_and_switch_in_chromium():
    with Stack() as st:
        person(st, "browser", roles=["operator"], ssp=True, caller=True)
        profile = tempfile.mkdtemp(prefix="og-chromium-")
        port = free_port()
        proc = subprocess.Popen(
            [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
             f"--user-data-dir={profile}", f"--remote-debugging-port={port}",
             f"{st.origin}/ssp/home"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            deadline = time.time() + 20
            pages = []
            while time.time() < deadline and not pages:
                try:
                    with urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list") as f:
                        pages = [p for p in json.load(f) if p.get("type") == "page"]
                except OSError:
                    time.sleep(0.2)
            assert pages, "chromium's DevTools endpoint did not come up"
            ws = WS(pages[0]["webSocketDebuggerUrl"])
            ws.call("Runtime.enable")
            # not logged in: the SSP sends the browser to the login page, return_to kept
            wait_for(ws, "location.pathname === '/-/login' && !!document.forms[0]")
            assert "return_to=" in ws.eval("location.search")
            ws.eval("document.getElementById('username').value = 'browser';"
                    f"document.getElementById('password').value = {json.dumps(PW)};"
                    "document.forms[0].submit(); true")
            wait_for(ws, "location.pathname === '/ssp/home'")
            assert "Self-Service Portal" in ws.eval("document.title")
            # switch portals: the same cookie, no login page in between
            ws.call("Page.navigate", url=f"{st.origin}/operator/")
            wait_for(ws, "location.pathname === '/operator/' && document.readyState === "
                         "'complete'")
            assert "Operator portal" in ws.eval("document.title")
            who = ws.eval("fetch('/-/session').then(r => r.json())")
            assert who["person"]["login"] == "browser", who
            assert [p["name"] for p in who["portals"]] == ["ssp", "operator"], who
            # the session cookie is HttpOnly: page scripts cannot read it
            assert "onegate_session=" not in ws.eval("document.cookie")
            # logout from the operator portal: both portals refuse afterwards
            ws.call("Page.navigate", url=f"{st.origin}/-/logout")
            wait_for(ws, "location.pathname === '/-/login'")
            ws.call("Page.navigate", url=f"{st.origin}/ssp/home")
            wait_for(ws, "location.pathname === '/-/login'")
        finally:
            stop_pid(proc)
            shutil.rmtree(profile, ignore_errors=True)


if __name__ == "__main__":
    if not os.access(CHROMIUM, os.X_OK):
        print(f"SKIP: {CHROMIUM} is not installed (apt-get install chromium); the browser "
              "login-and-switch test did not run")
        raise SystemExit(0)
    from gwtest_util import run_tests
    run_tests([test_login_and_switch_in_chromium])
