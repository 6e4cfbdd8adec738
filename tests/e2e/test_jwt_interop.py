#!/usr/bin/env python3
"""tests/e2e/test_jwt_interop.py — onegate's JWTs against an independent JOSE implementation.

PyJWT (Debian's python3-jwt, on python3-cryptography) verifies onegate's ES256 and RS256
tokens of both identity kinds against onegate's JWKS, recomputes every kid as an RFC 7638
thumbprint, and signs tokens with the configured keys that onegate's verifier must accept —
and forged ones it must refuse. Keys come from certs/gen-keys.sh (so the script is tested
too); the C side is the tool mode of the unit_auth_test_jwt_interop runner.

The Debian packages live in /usr/bin/python3's site-packages; when started by another
interpreter (pyenv is first on PATH here) the test re-executes itself under /usr/bin/python3.
"""
import base64
import hashlib
import hmac
import json
import os
import subprocess
import sys
import tempfile
import time

SYSTEM_PYTHON = "/usr/bin/python3"

try:
    import jwt  # PyJWT
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.hazmat.primitives import serialization
except ImportError:
    if os.path.realpath(sys.executable) != os.path.realpath(SYSTEM_PYTHON) and \
            os.path.exists(SYSTEM_PYTHON):
        os.execv(SYSTEM_PYTHON, [SYSTEM_PYTHON] + sys.argv)
    sys.exit("FAIL: PyJWT/cryptography missing: apt-get install -y python3-jwt "
             "python3-cryptography")

ISS = "https://onegate.test"
SRC = os.environ.get("ONEGATE_SOURCE_DIR", os.getcwd())
BUILD = os.environ.get("ONEGATE_BUILD_DIR", os.path.join(SRC, "build"))
TOOL = os.path.join(BUILD, "tests", "unit_auth_test_jwt_interop")

failures = []


def check(cond, what):
    print(("ok   " if cond else "FAIL ") + what)
    if not cond:
        failures.append(what)


def b64u(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def thumbprint(jwk: dict) -> str:
    """RFC 7638: required members only, sorted, no whitespace, SHA-256, base64url."""
    req = {"EC": ("crv", "kty", "x", "y"), "RSA": ("e", "kty", "n")}[jwk["kty"]]
    canon = json.dumps({k: jwk[k] for k in req}, sort_keys=True, separators=(",", ":"))
    return b64u(hashlib.sha256(canon.encode()).digest())


def gen_keys(d):
    def gen(*args):
        out = subprocess.run([os.path.join(SRC, "certs", "gen-keys.sh"), "-o", d, *args],
                             check=True, capture_output=True, text=True).stdout.split()
        return out[0], out[1]
    es = gen("-n", "es")
    rs = gen("-a", "RS256", "-b", "2048", "-n", "rs")
    check(oct(os.stat(es[0]).st_mode & 0o777) == "0o600", "gen-keys.sh private key is 0600")
    return es, rs


def c_mint(signing, outdir, *published):
    subprocess.run([TOOL, "mint", signing, outdir, *published], check=True)
    with open(os.path.join(outdir, "jwks.json")) as f:
        jwks = json.load(f)
    toks = {}
    for kind in ("person", "api"):
        with open(os.path.join(outdir, kind + ".jwt")) as f:
            toks[kind] = f.read().strip()
    return jwks, toks


def c_verify(token, kind, aud, *keys):
    """Returns (accepted, claims-or-reason)."""
    with tempfile.NamedTemporaryFile("w", suffix=".jwt", delete=False) as f:
        f.write(token)
        path = f.name
    try:
        p = subprocess.run([TOOL, "verify", kind, aud or "-", path, *keys],
                           capture_output=True, text=True)
    finally:
        os.unlink(path)
    if p.returncode == 0:
        return True, json.loads(p.stdout)
    if p.returncode == 3:
        return False, p.stdout.strip()
    raise RuntimeError(f"tool failed ({p.returncode}): {p.stderr}")


def pyjwt_verify(token, jwks, aud):
    """What a portal using PyJWT does: pick the JWKS key by kid, pin its alg, verify."""
    header = jwt.get_unverified_header(token)
    entry = next(k for k in jwks["keys"] if k["kid"] == header["kid"])
    key = jwt.PyJWK.from_dict(entry).key
    return header, jwt.decode(token, key, algorithms=[entry["alg"]], audience=aud, issuer=ISS,
                              options={"require": ["exp", "iat", "iss", "aud", "jti"]})


def test_onegate_tokens_verify_with_pyjwt(es, rs, work):
    for signing, published, alg in ((es, rs, "ES256"), (rs, es, "RS256")):
        out = os.path.join(work, alg)
        os.mkdir(out)
        jwks, toks = c_mint(signing[0], out, published[1])
        check(len(jwks["keys"]) == 2, f"{alg}: JWKS lists signing + published key")
        for k in jwks["keys"]:
            check(k["kid"] == thumbprint(k), f"{alg}: kid {k['kid'][:8]}.. is the RFC 7638 "
                  "thumbprint")
            check(k["use"] == "sig" and "d" not in k, f"{alg}: JWKS entry public, use=sig")
        check(jwks["keys"][0]["alg"] == alg, f"{alg}: signing key listed first")

        header, claims = pyjwt_verify(toks["person"], jwks, "ssp")
        check(header == {"alg": alg, "kid": jwks["keys"][0]["kid"], "typ": "JWT"},
              f"{alg}: header is alg+kid+typ")
        now = time.time()
        check(claims["sub_type"] == "person" and claims["sub"] == "person-42",
              f"{alg}: person sub/sub_type")
        check(claims["roles"] == ["operator", "application_manager"], f"{alg}: person roles")
        check(claims["ssp_access"] is True and claims["caller"] is True, f"{alg}: person flags")
        check(claims["sid"] == "sess-1" and claims["name"] == "Ada Lovelace" and
              claims["email"] == "ada@example.org", f"{alg}: sid, name, email")
        check(claims["exp"] - claims["iat"] == 300 and abs(claims["iat"] - now) < 60 and
              claims["nbf"] == claims["iat"], f"{alg}: iat/nbf/exp (5 min)")
        check(len(claims["jti"]) >= 16, f"{alg}: jti present")

        _, api = pyjwt_verify(toks["api"], jwks, "api")
        check(api["sub_type"] == "api_account" and api["client_id"] == "billing-sync" and
              api["sub"] == "billing-sync" and api["scope"] == "people:read",
              f"{alg}: API-account claims")
        check(api["exp"] - api["iat"] == 600, f"{alg}: API token lifetime as minted")

        # PyJWT refuses what it should too (the token is bound to its audience).
        try:
            pyjwt_verify(toks["person"], jwks, "api")
            check(False, f"{alg}: PyJWT refuses the person token for audience api")
        except jwt.InvalidAudienceError:
            check(True, f"{alg}: PyJWT refuses the person token for audience api")
        # A flipped signature bit fails in PyJWT as well.
        t = toks["api"]
        bad = t[:-10] + ("A" if t[-10] != "A" else "B") + t[-9:]
        try:
            pyjwt_verify(bad, jwks, "api")
            check(False, f"{alg}: PyJWT refuses a tampered signature")
        except jwt.InvalidSignatureError:
            check(True, f"{alg}: PyJWT refuses a tampered signature")


def api_claims(**over):
    now = int(time.time())
    c = {"iss": ISS, "sub": "cli-9", "aud": "api", "iat": now, "nbf": now, "exp": now + 120,
         "jti": b64u(os.urandom(16)), "sub_type": "api_account", "client_id": "cli-9",
         "scope": "reports:read"}
    c.update(over)
    return c


def test_pyjwt_tokens_verify_in_onegate(es, rs, work):
    kids = {}
    for name, pair in (("es", es), ("rs", rs)):
        out = os.path.join(work, "kid-" + name)
        os.mkdir(out)
        jwks, _ = c_mint(pair[0], out)
        kids[name] = jwks["keys"][0]["kid"]
    keys = (es[1], rs[1])
    for name, pair, alg in (("es", es, "ES256"), ("rs", rs, "RS256")):
        with open(pair[0]) as f:
            priv = f.read()
        tok = jwt.encode(api_claims(), priv, algorithm=alg, headers={"kid": kids[name]})
        ok, c = c_verify(tok, "api", "api", *keys)
        check(ok and c.get("client_id") == "cli-9" and c.get("scope") == "reports:read",
              f"onegate accepts a PyJWT {alg} API token ({c if not ok else 'claims ok'})")
        ok, why = c_verify(tok, "person", "api", *keys)
        check(not ok and why == "refused wrong_sub_type",
              f"onegate refuses the PyJWT {alg} API token as a person token ({why})")
        ok, why = c_verify(tok, "api", "ssp", *keys)
        check(not ok and why == "refused bad_audience", f"{alg}: wrong audience refused ({why})")
        exp = jwt.encode(api_claims(iat=int(time.time()) - 900, nbf=int(time.time()) - 900,
                                    exp=int(time.time()) - 600),
                         priv, algorithm=alg, headers={"kid": kids[name]})
        ok, why = c_verify(exp, "api", "api", *keys)
        check(not ok and why == "refused expired", f"{alg}: expired PyJWT token refused ({why})")
        person = jwt.encode({**api_claims(), "sub_type": "person", "sub": "p-1",
                             "roles": ["operator"], "aud": "ssp"},
                            priv, algorithm=alg, headers={"kid": kids[name]})
        ok, c = c_verify(person, "person", "ssp", *keys)
        check(ok and c.get("roles") == ["operator"], f"{alg}: PyJWT person token accepted")

    # Forgeries made with the standard library: algorithm confusion, alg none, foreign key.
    with open(es[1], "rb") as f:
        pem = f.read()
    def raw(header, claims, sig: bytes):
        h = b64u(json.dumps(header).encode())
        p = b64u(json.dumps(claims).encode())
        return h, p, f"{h}.{p}.{b64u(sig)}" if sig is not None else f"{h}.{p}."
    for alg in ("HS256", "hs256"):
        h, p, _ = raw({"alg": alg, "kid": kids["es"], "typ": "JWT"}, api_claims(), b"")
        mac = hmac.new(pem, f"{h}.{p}".encode(), hashlib.sha256).digest()
        ok, why = c_verify(f"{h}.{p}.{b64u(mac)}", "api", "api", *keys)
        check(not ok and why == "refused bad_alg",
              f"{alg} keyed with the public key PEM refused ({why})")
    for alg in ("none", "None", "NONE"):
        _, _, t = raw({"alg": alg, "kid": kids["es"]}, api_claims(), None)
        ok, why = c_verify(t, "api", "api", *keys)
        check(not ok, f"alg {alg} refused ({why})")
    foreign = ec.generate_private_key(ec.SECP256R1())
    fpem = foreign.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                 serialization.NoEncryption())
    t = jwt.encode(api_claims(), fpem, algorithm="ES256", headers={"kid": kids["es"]})
    ok, why = c_verify(t, "api", "api", *keys)
    check(not ok and why == "refused bad_signature",
          f"token signed by a foreign key under our kid refused ({why})")
    t = jwt.encode(api_claims(), fpem, algorithm="ES256",
                   headers={"kid": kids["es"], "jku": "https://evil.example/jwks.json"})
    ok, why = c_verify(t, "api", "api", *keys)
    check(not ok and why == "refused bad_header", f"jku header refused ({why})")


def main():
    if not os.access(TOOL, os.X_OK):
        sys.exit(f"FAIL: {TOOL} not built")
    print(f"PyJWT {jwt.__version__} under {sys.executable}")
    with tempfile.TemporaryDirectory(prefix="onegate-jwt-interop-") as work:
        es, rs = gen_keys(work)
        test_onegate_tokens_verify_with_pyjwt(es, rs, work)
        test_pyjwt_tokens_verify_in_onegate(es, rs, work)
    if failures:
        print(f"{len(failures)} check(s) failed")
        sys.exit(1)
    print("all interop checks passed")


if __name__ == "__main__":
    main()
