#!/usr/bin/env python3
"""tests/e2e/test_bearer.py — bearer tokens on API routes through the whole HTTP path (real
onegate, redis-server, demo portals): the accepted case, the policy with the token's scopes,
and every attack of issue 5, each of which must be answered 401 (or 431 for a head too large
to read) and never reach the upstream: alg none in any casing, signature stripped, HS256
signed with the public key PEM or the JWKS bytes, payload changed under the old signature,
unknown and path-like kid, jku/x5u/jwk/crit headers, expired, not yet valid, wrong iss, wrong
aud, a person's token as an API token, an API token on person pages, a revoked jti, a
deleted / disabled / rotated account, a never-issued token signed with the real key, a 1 MB
token (431, connection closed) and tokens over jwt.max_token_bytes inside the head limit (401),
malformed base64 and JSON in each part. Then floods of distinct well-formed bad tokens: from
several addresses over the worker's cap on signature checks (429 too_many_new_tokens while a
cached token keeps passing), and from one address over its budget (429 once over budget, while
other clients keep being served; their p99 is measured by bench/bench_tokens.sh, not asserted
here).

Forged tokens are signed with PyJWT (Debian's python3-jwt); like test_jwt_interop.py the test
re-executes itself under /usr/bin/python3 when another interpreter lacks it.
"""
import hashlib
import hmac
import http.client
import json
import multiprocessing
import os
import socket
import sys
import threading
import time

SYSTEM_PYTHON = "/usr/bin/python3"
try:
    import jwt  # PyJWT
except ImportError:
    if os.path.realpath(sys.executable) != os.path.realpath(SYSTEM_PYTHON) and \
            os.path.exists(SYSTEM_PYTHON):
        os.execv(SYSTEM_PYTHON, [SYSTEM_PYTHON] + sys.argv)
    sys.exit("FAIL: PyJWT missing: apt-get install -y python3-jwt python3-cryptography")

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from gwtest_util import run_tests  # noqa: E402
from tokentest_util import ISSUER, TokenStack, b64url, parts  # noqa: E402


def forge(header, payload, sig=b""):
    """A compact JWS from raw parts (no signing)."""
    h = b64url(json.dumps(header, separators=(",", ":")).encode())
    p = b64url(json.dumps(payload, separators=(",", ":")).encode())
    return f"{h}.{p}.{b64url(sig)}"


def hs256(header, payload, secret):
    h = b64url(json.dumps(header, separators=(",", ":")).encode())
    p = b64url(json.dumps(payload, separators=(",", ":")).encode())
    mac = hmac.new(secret, f"{h}.{p}".encode(), hashlib.sha256).digest()
    return f"{h}.{p}.{b64url(mac)}"


def api_claims(cid, **kw):
    now = int(time.time())
    c = {"iss": ISSUER, "sub": cid, "iat": now, "nbf": now, "exp": now + 300,
         "jti": "forgedjti0123456789abc", "sub_type": "api_account", "client_id": cid,
         "scope": "incidents.read"}
    c.update(kw)
    return {k: v for k, v in c.items() if v is not None}


def refused(st, tok, why, status=401):
    """onegate itself answers <status> (its JSON error, not the portal's page)."""
    r = st.bearer("/api/incidents", tok)
    assert r.status == status, f"{why}: {r}"
    assert b"Operator portal" not in r.body, f"{why}: reached the upstream"
    if status == 401:
        assert 'error="invalid_token"' in (r.header("WWW-Authenticate") or ""), (why, r.headers)
        assert r.json()["error"] == "invalid_token", (why, r)


class BearerStack(TokenStack):
    """Attack tests send many bad tokens from one address: a large failure budget keeps them
    at 401 (the flood test uses the default budget)."""

    def __init__(self, jwt=None, **kw):
        super().__init__(jwt=dict({"bad_token_burst": 10000}, **(jwt or {})), **kw)


def test_accepted_and_scoped():
    with BearerStack() as st:
        cid, sec = st.account(scopes=["incidents.read", "incidents.write"])
        tok = st.token(cid, sec, scope="incidents.read")
        for _ in range(4):                       # both workers, cache hits after the first
            r = st.bearer("/api/incidents", tok)
            assert r.status == 200 and b"Operator portal" in r.body, r
        # the rule for writes needs incidents.write: 403, not 401 (the token is fine)
        r = st.bearer("/api/incidents", tok, method="POST")
        assert r.status == 403, r
        # an API account is never let into the person pages (SSP, operator portal)
        for path in ("/ssp/home", "/operator/home", "/ssp/requests"):
            r = st.bearer(path, tok)
            assert r.status == 401 and r.json()["error"] == "login_required", (path, r)
        # no bearer on the API route: 401 (a person could pass: login required)
        r = st.http("GET", "/api/incidents", headers={"Accept": "application/json"})
        assert r.status == 401, r


def test_forgeries():
    with BearerStack() as st:
        cid, sec = st.account()
        good = st.token(cid, sec)
        hdr, claims, sig = parts(good)
        h64, p64, s64 = good.split(".")
        pub = open(st.pub, "rb").read()
        jwks = st.http("GET", "/.well-known/jwks.json").body
        priv = open(st.key, "rb").read()
        assert st.bearer("/api/incidents", good).status == 200
        for alg in ("none", "None", "NONE", "nOnE"):
            refused(st, forge(dict(hdr, alg=alg), claims), "alg " + alg)
            refused(st, forge(dict(hdr, alg=alg), claims, b"x" * 64), "alg " + alg + " + sig")
        refused(st, f"{h64}.{p64}.", "signature stripped")
        refused(st, f"{h64}.{p64}", "two parts")
        refused(st, hs256(dict(hdr, alg="HS256"), claims, pub), "HS256 with the public PEM")
        refused(st, hs256(dict(hdr, alg="HS256"), claims, jwks), "HS256 with the JWKS")
        refused(st, hs256({"alg": "HS256", "typ": "JWT"}, claims, pub), "HS256 without kid")
        escalated = dict(claims, scope="incidents.read incidents.write")
        t = forge(hdr, escalated).rsplit(".", 1)[0] + "." + s64
        refused(st, t, "payload changed under the old signature")
        refused(st, forge(hdr, dict(claims, exp=claims["exp"] + 3600)).rsplit(".", 1)[0] + "." +
                s64, "exp extended under the old signature")
        sign = lambda c, **h: jwt.encode(c, priv, algorithm="ES256",  # noqa: E731
                                         headers=dict({"kid": hdr["kid"]}, **h))
        for kid in ("unknown-kid", "../../../../etc/passwd", "/dev/null", hdr["kid"] + "x", ""):
            refused(st, jwt.encode(claims, priv, algorithm="ES256", headers={"kid": kid}),
                    "kid " + repr(kid))
        refused(st, jwt.encode(claims, priv, algorithm="ES256"), "no kid")
        refused(st, sign(claims, jku="https://evil.example/jwks.json"), "jku")
        refused(st, sign(claims, x5u="https://evil.example/cert.pem"), "x5u")
        refused(st, sign(claims, jwk={"kty": "EC"}), "jwk header")
        refused(st, sign(claims, crit=["exp"]), "crit")
        now = int(time.time())
        refused(st, sign(api_claims(cid, jti=claims["jti"], iat=now - 1000, nbf=now - 1000,
                                    exp=now - 100)), "expired")
        refused(st, sign(api_claims(cid, jti=claims["jti"], nbf=now + 600, iat=now)),
                "not yet valid")
        refused(st, sign(api_claims(cid, jti=claims["jti"], iss="https://evil.example")),
                "wrong iss")
        refused(st, sign(api_claims(cid, jti=claims["jti"], aud="operator")),
                "an aud where none is configured")
        refused(st, sign(api_claims(cid, sub_type="person", roles=["operator"], sid="x",
                                    jti=claims["jti"])), "person token as API token")
        refused(st, sign(api_claims(cid, jti="neverissued012345678901")),
                "validly signed but never issued")
        # malformed base64 and JSON in each part
        bad_b64 = "eyJ!!!"
        refused(st, f"{bad_b64}.{p64}.{s64}", "bad base64 header")
        refused(st, f"{h64}.{bad_b64}.{s64}", "bad base64 payload")
        refused(st, f"{h64}.{p64}.{bad_b64}", "bad base64 signature")
        refused(st, f"{h64}=.{p64}.{s64}", "padded base64")
        refused(st, f"{b64url(b'{not json')}.{p64}.{s64}", "bad JSON header")
        refused(st, f"{h64}.{b64url(b'[1,2]')}.{s64}", "JSON array payload")
        truncated = b64url(b'{"exp":')
        refused(st, f"{h64}.{truncated}.{s64}", "truncated JSON payload")
        r = st.bearer("/api/incidents", "")         # "Bearer" alone: no token at all
        assert r.status == 401 and b"Operator portal" not in r.body, r
        refused(st, "a.b.c.d", "four parts")
        # the genuine token still works after all that (nothing was poisoned)
        assert st.bearer("/api/incidents", good).status == 200


def test_wrong_audience():
    with BearerStack(oauth={"audience": "incidents-api"}) as st:
        cid, sec = st.account()
        good = st.token(cid, sec)
        assert parts(good)[1]["aud"] == "incidents-api"
        assert st.bearer("/api/incidents", good).status == 200
        priv = open(st.key, "rb").read()
        hdr, claims, _ = parts(good)
        for aud in ("operator", ["ssp", "other"], None):
            t = jwt.encode(dict(claims, aud=aud) if aud else
                           {k: v for k, v in claims.items() if k != "aud"},
                           priv, algorithm="ES256", headers={"kid": hdr["kid"]})
            refused(st, t, f"aud {aud!r}")


def test_revoked_and_account_changes():
    with BearerStack() as st:
        # revoked jti
        cid, sec = st.account()
        tok = st.token(cid, sec)
        assert st.bearer("/api/incidents", tok).status == 200
        assert st.form("/oauth/revoke", {"token": tok}, basic=(cid, sec)).status == 200
        for _ in range(4):
            refused(st, tok, "revoked jti")
        # disabled account: refused at once, on every worker (cache evicted by the event)
        cid, sec = st.account()
        tok = st.token(cid, sec)
        for _ in range(4):
            assert st.bearer("/api/incidents", tok).status == 200
        assert st.admin("POST", f"api-accounts/{cid}/disable", {}).status == 200
        for _ in range(4):
            refused(st, tok, "disabled account")
        assert st.admin("POST", f"api-accounts/{cid}/enable", {}).status == 200
        refused(st, tok, "token of a disabled account stays dead after enabling")
        # rotated secret (no overlap): old tokens die
        tok = st.token(cid, sec)
        for _ in range(4):
            assert st.bearer("/api/incidents", tok).status == 200
        r = st.admin("POST", f"api-accounts/{cid}/rotate", {})
        assert r.status == 200, r
        for _ in range(4):
            refused(st, tok, "rotated account")
        sec = r.json()["client_secret"]
        assert st.bearer("/api/incidents", st.token(cid, sec)).status == 200
        # deleted account
        tok = st.token(cid, sec)
        for _ in range(4):
            assert st.bearer("/api/incidents", tok).status == 200
        assert st.admin("DELETE", f"api-accounts/{cid}").status in (200, 204)
        for _ in range(4):
            refused(st, tok, "deleted account")


def huge_head_refused(st, good):
    """A 1 MB bearer token on a raw connection: 431 from the head-size limit, the connection
    closed after it, the gateway unharmed (the next request with a valid token passes)."""
    req = (b"GET /api/incidents HTTP/1.1\r\nHost: gw.test\r\nAuthorization: Bearer " +
           b"a" * (1 << 20) + b"\r\n\r\n")
    s = socket.create_connection(("127.0.0.1", st.port), timeout=10)

    def send():
        try:
            s.sendall(req)
        except OSError:
            pass                        # refused and closed before the rest was read
    sender = threading.Thread(target=send)
    sender.start()
    out, closed = b"", False
    deadline = time.time() + 10
    while time.time() < deadline:
        try:
            chunk = s.recv(65536)
        except ConnectionResetError:
            closed = True
            break
        if not chunk:
            closed = True
            break
        out += chunk
    s.close()
    sender.join(10)
    head = out.split(b"\r\n\r\n", 1)[0].decode("latin-1")
    assert head.startswith("HTTP/1.1 431 "), out[:300]
    assert "\r\nconnection: close" in head.lower(), head
    assert b"Operator portal" not in out
    assert closed, "the connection stayed open after 431"
    assert out.count(b"HTTP/1.1 ") == 1, out[:600]     # one answer, nothing read as a request
    assert st.bearer("/api/incidents", good).status == 200


def test_huge_tokens():
    # default head limit (16 KiB): a 1 MB header is refused before any token code reads it;
    # a token over jwt.max_token_bytes (8192) but inside the head limit reaches the bearer
    # code, which refuses it unread: 401 invalid_token
    with BearerStack() as st:
        cid, sec = st.account()
        good = st.token(cid, sec)
        h64, p64, s64 = good.split(".")
        r = st.bearer("/api/incidents", "a" * (1 << 20))
        assert r.status == 431, r
        huge_head_refused(st, good)
        refused(st, "x" * 9000, "9000-byte token, over max_token_bytes, under the head limit")
        refused(st, h64 + "." + "A" * 9000 + "." + s64, "well-formed token over max_token_bytes")
        for t in ("x" * 9000, h64 + "." + "A" * 9000 + "." + s64):   # refused by the bound
            r = st.bearer("/api/incidents", t)
            assert 'error_description="too_large"' in r.header("WWW-Authenticate"), r.headers
        assert st.bearer("/api/incidents", good).status == 200
    # with a head limit that lets it through, the head parser still refuses a 1 MB field
    # (400); a 60 KB token reaches the verifier, which refuses it unread (size bound)
    def big_heads(cfg, stack):
        cfg["limits"] = {"max_header_bytes": 2 << 20, "max_request_line_bytes": 8192}
    with BearerStack(edit=big_heads) as st:
        cid, sec = st.account()
        good = st.token(cid, sec)
        h64, p64, s64 = good.split(".")
        r = st.bearer("/api/incidents", h64 + "." + "A" * (1 << 20) + "." + s64)
        assert r.status in (400, 431) and b"Operator portal" not in r.body, r
        refused(st, h64 + "." + "A" * 60000 + "." + s64, "60 KB token")
        refused(st, "x" * 9000, "just over max_token_bytes")
        assert st.bearer("/api/incidents", good).status == 200


def metric(st, name):
    """The value of one sample line of /-/metrics (0 when absent)."""
    for line in st.http("GET", "/-/metrics").body.decode().splitlines():
        if line.startswith(name + " "):
            return int(line.split()[-1])
    return 0


def test_signature_cap():
    """A burst of distinct forged tokens from several addresses, each well inside its own
    failure budget, over a low jwt.max_signature_checks_per_s: the worker checks at most its
    cap, the rest get 429 too_many_new_tokens with Retry-After and cost no signature, while a
    token already verified keeps passing; once the burst is over new tokens verify again."""
    cap = 20                                    # per worker and second: burst of 2
    with BearerStack(jwt={"max_signature_checks_per_s": cap}) as st:
        workers = st.config["workers"]
        cid, sec = st.account()
        good, fresh = st.token(cid, sec), st.token(cid, sec)
        for _ in range(20):                     # a new connection each: every worker sees it
            assert st.bearer("/api/incidents", good).status == 200   # (verified once per
            #                                                           worker, then cached)
        time.sleep(0.2)                         # those checks refilled
        priv = open(st.key, "rb").read()
        kid = parts(good)[0]["kid"]
        wrong_sig = good.split(".")[2]
        forged = [jwt.encode(api_claims(cid, jti=f"capflood{i:014d}"), priv, algorithm="ES256",
                             headers={"kid": kid}).rsplit(".", 1)[0] + "." + wrong_sig
                  for i in range(400)]
        checks0 = metric(st, "onegate_bearer_signature_checks_total")
        answers, bodies, lock = {}, set(), threading.Lock()

        def flood(k):
            c = http.client.HTTPConnection("127.0.0.1", st.port, timeout=10)
            c.sock = socket.create_connection(("127.0.0.1", st.port), timeout=10,
                                              source_address=(f"127.0.0.{2 + k}", 0))
            for t in forged[k::4]:
                c.request("GET", "/api/incidents", headers={"Authorization": "Bearer " + t})
                r = c.getresponse()
                body = r.read()
                with lock:
                    answers[r.status] = answers.get(r.status, 0) + 1
                    if r.status == 429:
                        bodies.add((json.loads(body)["error"], r.getheader("Retry-After")))
            c.close()
        t0 = time.time()
        threads = [threading.Thread(target=flood, args=(k,)) for k in range(4)]
        for t in threads:
            t.start()
        served = 0
        while any(t.is_alive() for t in threads):
            r = st.bearer("/api/incidents", good)
            assert r.status == 200, f"the cached token was refused during the burst: {r}"
            served += 1
        for t in threads:
            t.join()
        elapsed = time.time() - t0
        print(f"     {len(forged)} forged tokens in {elapsed:.2f} s from 4 addresses: {answers}; "
              f"cached token served {served} times meanwhile", flush=True)
        assert set(answers) <= {401, 429}, answers
        assert sum(answers.values()) == len(forged)
        assert served > 0
        # at most the burst + the rate, per worker, got a signature check (401)
        most = workers * (cap // 10 + cap * elapsed) + 1
        assert answers.get(401, 0) <= most, (answers, most)
        assert answers.get(429, 0) >= len(forged) - most, answers
        assert bodies == {("too_many_new_tokens", "1")}, bodies
        # the refusals are counted, by their reason; none by the per-address budget
        assert metric(st, 'onegate_bearer_throttled_total{reason="signature_cap"}') == \
            answers[429]
        assert metric(st, 'onegate_bearer_throttled_total{reason="client_budget"}') == 0
        checks = metric(st, "onegate_bearer_signature_checks_total") - checks0
        assert checks == answers.get(401, 0), (checks, answers)
        time.sleep(1.0)                         # Retry-After: the cap refilled
        r = st.bearer("/api/incidents", fresh)  # never seen before: verified now
        assert r.status == 200, r


def p99(samples):
    s = sorted(samples)
    return s[min(len(s) - 1, int(len(s) * 0.99))]


def timed_requests(port, tok, n):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    out = []
    for _ in range(n):
        t0 = time.perf_counter()
        c.request("GET", "/api/incidents", headers={"Authorization": "Bearer " + tok})
        resp = c.getresponse()
        resp.read()
        assert resp.status == 200
        out.append(time.perf_counter() - t0)
    c.close()
    return out


def test_flood_of_bad_tokens():
    with TokenStack() as st:
        cid, sec = st.account()
        good = st.token(cid, sec)
        priv = open(st.key, "rb").read()
        kid = parts(good)[0]["kid"]
        # distinct well-formed tokens with bad signatures: correct header, kid and claims,
        # the signature of another payload (passes every cheap check)
        victim = good.split(".")
        timed_requests(st.port, good, 50)
        idle = p99(timed_requests(st.port, good, 400))
        # made beforehand, so that the flooding processes spend no CPU on signing
        flood_tokens = []
        for i in range(1500):
            t = jwt.encode(api_claims(cid, jti=f"flood{i:017d}"), priv, algorithm="ES256",
                           headers={"kid": kid})
            flood_tokens.append(t.rsplit(".", 1)[0] + "." + victim[2])   # wrong signature
        stop = multiprocessing.Event()
        counts = multiprocessing.Array("i", 3)      # 401, 429, other

        def flood():
            i = 0
            while not stop.is_set():
                s = socket.socket()
                s.bind(("127.0.0.2", 0))          # another client address
                s.connect(("127.0.0.1", st.port))
                c = http.client.HTTPConnection("127.0.0.1", st.port, timeout=10)
                c.sock = s
                for _ in range(50):
                    if stop.is_set():
                        break
                    i += 1
                    t = flood_tokens[(i * 7 + os.getpid()) % len(flood_tokens)]
                    c.request("GET", "/api/incidents", headers={"Authorization": "Bearer " + t})
                    r = c.getresponse()
                    r.read()
                    with counts.get_lock():
                        counts[0 if r.status == 401 else 1 if r.status == 429 else 2] += 1
                c.close()

        # separate processes: the flood must not share the measuring client's interpreter
        ctx = multiprocessing.get_context("fork")
        procs = [ctx.Process(target=flood) for _ in range(2)]
        for p in procs:
            p.start()
        time.sleep(0.5)
        busy = p99(timed_requests(st.port, good, 400))
        stop.set()
        for p in procs:
            p.join(10)
        counts = {"401": counts[0], "429": counts[1], "other": counts[2]}
        print(f"     p99 idle {idle * 1e3:.2f} ms, during flood {busy * 1e3:.2f} ms; "
              f"flood answers {counts}", flush=True)
        assert counts["other"] == 0, counts
        assert counts["429"] > counts["401"], counts     # the budget cut signature work off
        # Every ordinary request during the flood was answered 200 (timed_requests asserts it).
        # The latency figures above are printed for information only: timing is measured by
        # bench/bench_tokens.sh against nginx, never asserted in a test on a shared machine.


if __name__ == "__main__":
    run_tests([test_accepted_and_scoped, test_forgeries, test_wrong_audience,
               test_revoked_and_account_changes, test_huge_tokens, test_signature_cap,
               test_flood_of_bad_tokens])
