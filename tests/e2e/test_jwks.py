#!/usr/bin/env python3
"""tests/e2e/test_jwks.py — onegate's published keys against an independent JOSE library
(Debian's python3-jwt on python3-cryptography, under /usr/bin/python3): tokens fetched from
/oauth/token verify with PyJWT against /.well-known/jwks.json (ES256 and RS256), kids are RFC
7638 thumbprints, cache headers and ETag/304 work, a token PyJWT signs with the configured key
is accepted on the API flow once onegate knows it as issued, and a full key rotation by config
change + SIGHUP (publish, switch, retire) runs under continuous load with zero failed
verifications on either side. A reload naming a missing key is refused and keeps the keys."""
import copy
import hashlib
import json
import os
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
from tokentest_util import ISSUER, TokenStack, b64url, gen_key, parts  # noqa: E402


def thumbprint(k):
    """RFC 7638 JWK thumbprint, base64url."""
    if k["kty"] == "EC":
        members = {"crv": k["crv"], "kty": "EC", "x": k["x"], "y": k["y"]}
    else:
        members = {"e": k["e"], "kty": "RSA", "n": k["n"]}
    canon = json.dumps(members, separators=(",", ":"), sort_keys=True).encode()
    return b64url(hashlib.sha256(canon).digest())


def verify(token, jwks):
    kid = jwt.get_unverified_header(token)["kid"]
    entry = next((k for k in jwks["keys"] if k["kid"] == kid), None)
    if entry is None:
        raise jwt.InvalidTokenError("unknown kid")
    claims = jwt.decode(token, jwt.PyJWK.from_dict(entry).key, algorithms=[entry["alg"]],
                        issuer=ISSUER, options={"require": ["exp", "iat", "iss", "jti"]})
    assert claims["sub_type"] == "api_account"
    return claims


def test_interop_es256_and_rs256():
    for alg in ("ES256", "RS256"):
        with TokenStack(alg=alg) as st:
            r = st.http("GET", "/.well-known/jwks.json")
            assert r.status == 200, r
            assert r.header("Cache-Control") == "public, max-age=300"
            etag = r.header("ETag")
            assert etag and etag.startswith('"') and len(etag) == 34, etag
            jwks = r.json()
            assert len(jwks["keys"]) == 1
            k = jwks["keys"][0]
            assert k["alg"] == alg and k["use"] == "sig" and k["kid"] == thumbprint(k), k
            assert not ({"d", "p", "q", "dp", "dq", "qi"} & set(k)), "private members published"
            r2 = st.http("GET", "/.well-known/jwks.json", headers={"If-None-Match": etag})
            assert r2.status == 304 and r2.body == b"" and r2.header("ETag") == etag, r2
            assert st.http("POST", "/.well-known/jwks.json").status == 405
            cid, sec = st.account()
            tok = st.token(cid, sec)
            claims = verify(tok, jwks)
            assert claims["client_id"] == cid and claims["scope"] == "incidents.read"
            # a flipped bit in the signature fails PyJWT too
            h, p, s = tok.split(".")
            bad = h + "." + p + "." + ("A" if s[0] != "A" else "B") + s[1:]
            try:
                verify(bad, jwks)
                raise AssertionError("PyJWT accepted a bad signature")
            except jwt.InvalidSignatureError:
                pass


def test_pyjwt_signed_token_accepted():
    """A token signed by PyJWT with the configured key passes onegate's verifier; the API
    flow also demands that onegate issued it (its record in Redis), so it is refused until
    the record exists and accepted after."""
    with TokenStack() as st:
        cid, _ = st.account()
        kid = st.http("GET", "/.well-known/jwks.json").json()["keys"][0]["kid"]
        now = int(time.time())
        claims = {"iss": ISSUER, "sub": cid, "iat": now, "nbf": now, "exp": now + 120,
                  "jti": "pyjwtSignedToken000001", "sub_type": "api_account",
                  "client_id": cid, "scope": "incidents.read"}
        tok = jwt.encode(claims, open(st.key, "rb").read(), algorithm="ES256",
                         headers={"kid": kid, "typ": "JWT"})
        r = st.bearer("/api/x", tok)
        assert r.status == 401 and "not known" in r.header("WWW-Authenticate"), r
        st.rcmd("SET", "og:{api}:t:" + claims["jti"], cid, "EX", "150")
        r = st.bearer("/api/x", tok)
        assert r.status == 200, r


def test_rotation_without_failures():
    with TokenStack() as st:
        cid, sec = st.account()
        key_a, pub_a = st.key, st.pub
        key_b, pub_b = gen_key(st.tmpdir, "jwt-b")
        state = {"jwks": st.http("GET", "/.well-known/jwks.json").json(), "ok": 0,
                 "fail": [], "kids": set()}
        stop = threading.Event()

        def refetch():
            state["jwks"] = st.http("GET", "/.well-known/jwks.json").json()

        def loop():
            while not stop.is_set():
                try:
                    r = st.grant(cid, sec)
                    if r.status != 200:
                        state["fail"].append(("grant", r.status))
                        continue
                    tok = r.json()["access_token"]
                    kid = parts(tok)[0]["kid"]
                    state["kids"].add(kid)
                    if not any(k["kid"] == kid for k in state["jwks"]["keys"]):
                        refetch()               # what a correct verifier does on a new kid
                    verify(tok, state["jwks"])
                    b = st.bearer("/api/x", tok)
                    if b.status != 200:
                        state["fail"].append(("bearer", b.status))
                        continue
                    state["ok"] += 1
                except Exception as e:          # noqa: BLE001 — every failure is counted
                    state["fail"].append(("exception", repr(e)))

        th = threading.Thread(target=loop)
        th.start()
        try:
            cfg = copy.deepcopy(st.gw.config)
            time.sleep(0.5)
            # 1. publish B
            cfg["jwt"]["published_keys"] = [pub_b]
            st.gw.reload(cfg)
            jwks = st.http("GET", "/.well-known/jwks.json").json()
            assert [k["kid"] for k in jwks["keys"]][0] == state["jwks"]["keys"][0]["kid"]
            assert len(jwks["keys"]) == 2
            time.sleep(0.5)
            # 2. sign with B, A still published
            cfg["jwt"]["signing_key"] = key_b
            cfg["jwt"]["published_keys"] = [pub_a]
            st.gw.reload(cfg)
            time.sleep(0.5)
            old_tok_needed = len(state["kids"])
            # 3. retire A (the loop only uses fresh tokens, so their lifetime has passed)
            cfg["jwt"]["published_keys"] = []
            st.gw.reload(cfg)
            time.sleep(0.5)
        finally:
            stop.set()
            th.join()
        print(f"     {state['ok']} grant+verify rounds across the rotation, "
              f"{len(state['fail'])} failures", flush=True)
        assert not state["fail"], state["fail"][:5]
        assert state["ok"] > 20 and old_tok_needed >= 2 and len(state["kids"]) == 2
        jwks = st.http("GET", "/.well-known/jwks.json").json()
        assert len(jwks["keys"]) == 1 and jwks["keys"][0]["kid"] in state["kids"]
        # a token signed by the retired key is refused at once (also from the caches)
        now = int(time.time())
        kid_a = next(k for k in state["kids"] if k != jwks["keys"][0]["kid"])
        claims = {"iss": ISSUER, "sub": cid, "iat": now, "nbf": now, "exp": now + 120,
                  "jti": "signedWithRetiredKey01", "sub_type": "api_account",
                  "client_id": cid, "scope": "incidents.read"}
        st.rcmd("SET", "og:{api}:t:" + claims["jti"], cid, "EX", "150")
        tok = jwt.encode(claims, open(key_a, "rb").read(), algorithm="ES256",
                         headers={"kid": kid_a})
        assert st.bearer("/api/x", tok).status == 401
        # a reload naming a missing key is refused: the keys stay
        bad = copy.deepcopy(cfg)
        bad["jwt"]["signing_key"] = os.path.join(st.tmpdir, "missing.key")
        with open(st.gw.path, "w") as f:
            bad["listen"] = [f"127.0.0.1:{st.port}"]
            json.dump(bad, f)
        import signal
        os.kill(st.gw.proc.pid, signal.SIGHUP)
        deadline = time.time() + 5
        while "missing.key" not in st.gw.log_text() and time.time() < deadline:
            time.sleep(0.05)
        assert "missing.key" in st.gw.log_text()
        assert st.http("GET", "/.well-known/jwks.json").json() == jwks
        assert st.bearer("/api/x", st.token(cid, sec)).status == 200


if __name__ == "__main__":
    run_tests([test_interop_es256_and_rs256, test_pyjwt_signed_token_accepted,
               test_rotation_without_failures])
