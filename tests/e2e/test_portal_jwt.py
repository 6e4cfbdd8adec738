#!/usr/bin/env python3
"""tests/e2e/test_portal_jwt.py — the demo portal as an independent token verifier (issue 5:
"the demo portals verify the forwarded token against the JWKS and show its claims").

1. Through onegate: people log in, the portals (started with --jwks-url onegate's JWKS) show
   "Verified token" with the claims of the token onegate forwarded (each portal its own
   audience, the SSP's opt-in name/email), /echo carries them as JSON; tokens forged on
   the way (changed payload, alg none, HS256 with the public key, another portal's
   audience, expired) sent straight to a portal are rejected.
2. Against a JWKS served by this test (keys made with PyJWT's `cryptography`): the portal
   retries until the JWKS is up, verifies ES256 and RS256, pins the algorithm to the key,
   refuses jku/x5u/crit, checks exp/nbf/iss/aud, and fetches the JWKS again when a token
   names an unknown kid (key rotation), rate-limited.
"""
import base64
import hashlib
import hmac
import http.client
import http.server
import json
import os
import re
import subprocess
import sys
import threading
import time

SYSTEM_PYTHON = "/usr/bin/python3"
try:
    import jwt  # PyJWT
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec, rsa
except ImportError:
    if os.path.realpath(sys.executable) != os.path.realpath(SYSTEM_PYTHON) and \
            os.path.exists(SYSTEM_PYTHON):
        os.execv(SYSTEM_PYTHON, [SYSTEM_PYTHON] + sys.argv)
    sys.exit("FAIL: PyJWT missing: apt-get install -y python3-jwt python3-cryptography")

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from gwtest_util import portal_exe, run_tests, stop_pid  # noqa: E402
from tokentest_util import ISSUER, TokenStack, b64url, parts  # noqa: E402

PW = "correct horse battery"


class JwtPortal:
    """A demo-portal verifying tokens against <jwks_url> for <audience>."""

    def __init__(self, title, jwks_url, audience, issuer=None, extra=()):
        argv = [portal_exe(), "--listen", "127.0.0.1:0", "--title", title, "--quiet",
                "--jwks-url", jwks_url, "--audience", audience, *extra]
        if issuer:
            argv += ["--issuer", issuer]
        self.proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                     text=True)
        line = self.proc.stdout.readline()
        if "listening on" not in line:
            stop_pid(self.proc)
            raise RuntimeError(f"demo-portal did not start: {line!r} {self.proc.stderr.read()}")
        self.port = int(line.rsplit(":", 1)[1])
        self.addr = f"127.0.0.1:{self.port}"

    def get(self, path, token=None, header="Authorization"):
        c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=15)
        h = {header: "Bearer " + token} if token is not None else {}
        c.request("GET", path, headers=h)
        r = c.getresponse()
        body = r.read().decode()
        c.close()
        assert r.status == 200, (r.status, body)
        return body

    def stop(self):
        stop_pid(self.proc)
        err = self.proc.stderr.read()
        self.proc.stdout.close()
        self.proc.stderr.close()
        return err


def status_of(page):
    m = re.search(r'<h2 id="jwt-status">(.*?)</h2>', page)
    assert m, page
    return m.group(1)


def claims_of(page):
    """The claim table of a "Verified token" page as {name: text}."""
    assert status_of(page) == "Verified token", status_of(page)
    table = re.search(r'<table id="jwt-claims">(.*?)</table>', page, re.S).group(1)
    return dict(re.findall(r"<tr><td>([^<]*)</td><td>([^<]*)</td></tr>", table))


# ---- 1. through onegate ----------------------------------------------------------------

def audiences(cfg, stack):
    for r in cfg["routes"]:
        if r["path"] == "/operator/":
            r["audience"] = "operator-portal"
        elif r["path"] == "/ssp/":
            r.update(audience="ssp", jwt_claims=["name", "email"])


def person(st, login, roles=(), ssp=False, caller=False):
    r = st.admin("POST", "persons", {"login": login, "name": login.title() + " Tester",
                                     "password": PW, "email": login + "@example.org",
                                     "roles": list(roles), "has_ssp_access": ssp,
                                     "is_caller": caller})
    assert r.status == 201, r
    return r.json()["id"]


def session(st, login):
    r = st.http("POST", "/-/login", body={"username": login, "password": PW})
    assert r.status == 200, r
    for sc in r.headers_all("Set-Cookie"):
        k, _, rest = sc.partition("=")
        if k == "onegate_session":
            return rest.split(";")[0]
    raise AssertionError("no session cookie")


def forge(token, payload=None, header=None, key=b"", alg=None):
    """<token> with its payload and/or header replaced; re-signed with HMAC <key> when <alg>
    is HS256, signature emptied for "none", else the old signature kept."""
    h, p, sig = parts(token)
    h.update(header or {})
    p.update(payload or {})
    if alg:
        h["alg"] = alg
    signing = b64url(json.dumps(h).encode()) + "." + b64url(json.dumps(p).encode())
    if alg and alg.upper() == "HS256":
        sig = b64url(hmac.new(key, signing.encode(), hashlib.sha256).digest())
    elif alg and alg.lower() == "none":
        sig = ""
    return signing + "." + sig


def test_portals_behind_onegate():
    with TokenStack(edit=audiences) as st:
        jwks_url = st.origin + "/.well-known/jwks.json"
        op = JwtPortal("Operator portal", jwks_url, "operator-portal", ISSUER)
        ssp = JwtPortal("Self-Service Portal", jwks_url, "ssp", ISSUER)
        try:
            st.config["upstreams"]["operator"]["servers"] = [op.addr]
            st.config["upstreams"]["ssp"]["servers"] = [ssp.addr]
            st.gw.reload(st.config)
            pid = person(st, "olga", roles=["operator"], ssp=True, caller=True)
            cookie = session(st, "olga")
            ck = {"Cookie": "onegate_session=" + cookie}

            # the operator portal's page shows the verified claims of onegate's token
            r = st.http("GET", "/operator/", headers=ck)
            assert r.status == 200 and r.header("X-Demo-Portal") == "Operator portal", r
            page = r.body.decode()
            c = claims_of(page)
            assert c["sub"] == pid and c["sub_type"] == "person", c
            assert c["roles"] == "operator" and c["ssp_access"] == "true", c
            assert c["caller"] == "true" and c["aud"] == "operator-portal", c
            assert c["iss"] == ISSUER and "name" not in c and "email" not in c, c
            assert re.fullmatch(r"\d+ \(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC\)", c["exp"]), c
            assert cookie not in page
            # the SSP: its own audience and the opt-in claims
            r = st.http("GET", "/ssp/", headers=ck)
            c2 = claims_of(r.body.decode())
            assert c2["aud"] == "ssp" and c2["name"] == "Olga Tester", c2
            assert c2["email"] == "olga@example.org" and c2["sub"] == pid, c2
            # /echo: the same as JSON
            r = st.http("GET", "/operator/echo", headers=ck)
            j = r.json()["jwt"]
            assert j["verified"] is True and j["claims"]["sub"] == pid, j
            assert j["claims"]["roles"] == ["operator"] and j["claims"]["caller"] is True, j

            # the real token (as a front end gets it) is accepted by the portal directly ...
            r = st.http("GET", "/-/jwt?audience=operator-portal",
                        headers=dict(ck, **{"Sec-Fetch-Site": "same-origin"}))
            assert r.status == 200, r
            real = r.body.decode()
            assert claims_of(op.get("/operator/", real))["sub"] == pid
            # ... but forgeries are not
            pub_pem = open(st.pub, "rb").read()
            jwks_bytes = st.http("GET", "/.well-known/jwks.json").body
            rejected = {
                "payload changed": forge(real, {"roles": ["application_manager"]}),
                "alg none": forge(real, {"roles": ["x"]}, alg="none"),
                "alg NoNe": forge(real, alg="NoNe"),
                "HS256 with the PEM": forge(real, {"roles": ["x"]}, alg="HS256", key=pub_pem),
                "HS256 with the JWKS": forge(real, alg="HS256", key=jwks_bytes),
                "signature stripped": real.rsplit(".", 1)[0] + ".",
                "unknown kid": forge(real, header={"kid": "../../etc/passwd"}),
                "jku": forge(real, header={"jku": "http://evil.example/jwks.json"}),
            }
            for what, tok in rejected.items():
                st_ = status_of(op.get("/operator/", tok))
                assert st_.startswith("Token rejected: "), (what, st_)
                j = json.loads(op.get("/operator/echo", tok))["jwt"]
                assert j["verified"] is False and j["error"], (what, j)
            assert "algorithm" in status_of(op.get("/", rejected["HS256 with the PEM"]))
            assert "signature" in status_of(op.get("/", rejected["payload changed"]))
            # the SSP's token is not for the operator portal
            r = st.http("GET", "/-/jwt?audience=ssp", headers=ck)
            assert "wrong audience" in status_of(op.get("/operator/", r.body.decode()))
            # no token at all
            assert status_of(op.get("/operator/")) == "No token"
            assert json.loads(op.get("/echo"))["jwt"] == {"verified": False,
                                                          "error": "no token"}
            # a client's own Authorization never reaches the portal through onegate
            r = st.http("GET", "/operator/", headers=dict(ck, Authorization="Bearer " +
                                                          rejected["alg none"]))
            assert claims_of(r.body.decode())["roles"] == "operator"
        finally:
            errs = op.stop() + ssp.stop()
        assert "eyJ" not in errs, "a portal logged a token"


# ---- 2. against a JWKS served here -------------------------------------------------------

class JwksServer:
    """Serves self.doc at /jwks.json on a fixed port (start() may come after the portal)."""

    def __init__(self, port):
        self.port, self.doc, self.hits, self.httpd = port, {"keys": []}, 0, None

    def start(self):
        outer = self

        class H(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                outer.hits += 1
                body = json.dumps(outer.doc).encode()
                self.send_response(200 if self.path == "/jwks.json" else 404)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *a):
                pass

        self.httpd = http.server.HTTPServer(("127.0.0.1", self.port), H)
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def stop(self):
        if self.httpd:
            self.httpd.shutdown()
            self.httpd.server_close()


def jwk_of(key, kid, alg):
    d = json.loads(jwt.algorithms.get_default_algorithms()[alg].to_jwk(key.public_key()))
    d.update(kid=kid, alg=alg, use="sig")
    return d


def mint(key, kid, alg="ES256", aud="portal", iss="https://issuer.test", headers=None, **kw):
    now = int(time.time())
    claims = {"iss": iss, "aud": aud, "sub": "p-1", "sub_type": "person", "roles": ["r1", "r2"],
              "iat": now, "nbf": now, "exp": now + 300}
    claims.update(kw)
    return jwt.encode(claims, key, algorithm=alg, headers=dict({"kid": kid}, **(headers or {})))


def test_against_own_jwks():
    from dirtest_util import free_port
    port = free_port()
    srv = JwksServer(port)
    ec1 = ec.generate_private_key(ec.SECP256R1())
    ec2 = ec.generate_private_key(ec.SECP256R1())
    rs1 = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    portal = JwtPortal("P", f"http://127.0.0.1:{port}/jwks.json", "portal",
                       "https://issuer.test", extra=["--jwks-min-refresh", "1",
                                                     "--leeway", "5"])
    try:
        good = mint(ec1, "ec1")
        # no JWKS yet: the request waits for a fetch attempt, then says so
        assert "not available" in status_of(portal.get("/", good))
        # the portal keeps retrying: once the JWKS is served, tokens verify
        srv.doc = {"keys": [jwk_of(ec1, "ec1", "ES256"), jwk_of(rs1, "rs1", "RS256")]}
        srv.start()
        deadline = time.time() + 10
        while status_of(portal.get("/", good)) != "Verified token":
            assert time.time() < deadline, status_of(portal.get("/", good))
            time.sleep(0.2)
        c = claims_of(portal.get("/x", good))
        assert c["roles"] == "r1, r2" and c["sub"] == "p-1", c
        assert claims_of(portal.get("/", mint(rs1, "rs1", "RS256")))["sub"] == "p-1"
        assert claims_of(portal.get("/", mint(ec1, "ec1", aud=["other", "portal"])))
        # the key decides the algorithm; header tricks; claims
        bad = {
            "algorithm RS256 refused": mint(rs1, "ec1", "RS256"),
            "algorithm ES256 refused": mint(ec1, "rs1", "ES256"),
            "jku refused": mint(ec1, "ec1", headers={"jku": "http://x/"}),
            "x5u refused": mint(ec1, "ec1", headers={"x5u": "http://x/"}),
            "crit refused": mint(ec1, "ec1", headers={"crit": ["exp"]}),
            "expired": mint(ec1, "ec1", exp=int(time.time()) - 60),
            "not yet valid": mint(ec1, "ec1", nbf=int(time.time()) + 60),
            "wrong issuer": mint(ec1, "ec1", iss="https://evil.test"),
            "wrong audience": mint(ec1, "ec1", aud="other"),
            "no exp": jwt.encode({"iss": "https://issuer.test", "aud": "portal"}, ec1,
                                 algorithm="ES256", headers={"kid": "ec1"}),
            "bad signature": mint(ec2, "ec1"),          # right kid, wrong key
            "malformed": "abc.def.ghi",
            "three parts": good + ".x",
            "too large": good + "A" * 20000,
        }
        for want, tok in bad.items():
            got = status_of(portal.get("/", tok))
            assert got.startswith("Token rejected: ") and want in got, (want, got)
        # rotation: a token with a new kid makes the portal fetch the JWKS again
        time.sleep(1.1)                                 # past --jwks-min-refresh
        hits = srv.hits
        srv.doc = {"keys": [jwk_of(ec2, "ec2", "ES256"), jwk_of(ec1, "ec1", "ES256")]}
        assert claims_of(portal.get("/", mint(ec2, "ec2")))["sub"] == "p-1"
        assert srv.hits == hits + 1, (srv.hits, hits)
        # rate-limited: a burst of unknown kids costs at most one more fetch per second
        hits = srv.hits
        t0 = time.time()
        for i in range(20):
            assert "unknown key id" in status_of(portal.get("/", mint(ec1, f"nope{i}")))
        assert srv.hits - hits <= 1 + int(time.time() - t0), (srv.hits, hits)
        # a key that left the JWKS is no longer accepted after the next fetch
        srv.doc = {"keys": [jwk_of(ec2, "ec2", "ES256")]}
        time.sleep(1.1)
        portal.get("/", mint(ec2, "unknown-again"))     # triggers the fetch
        assert "unknown key id" in status_of(portal.get("/", good))
    finally:
        errs = portal.stop()
        srv.stop()
    assert "eyJ" not in errs


if __name__ == "__main__":
    run_tests([test_against_own_jwks, test_portals_behind_onegate])
