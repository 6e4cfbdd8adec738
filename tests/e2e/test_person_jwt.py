#!/usr/bin/env python3
"""tests/e2e/test_person_jwt.py — the person token onegate forwards to the portals (issue 5):
minted per session and person version, verified here with PyJWT against the JWKS (claims,
audience per route, opt-in name/email), the client's own Authorization replaced, the same
token reused, a new one after a card change, the same-origin <prefix>jwt endpoint, and a
person token refused where an API token is expected."""
import http.client
import json
import os
import sys

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
from tokentest_util import ISSUER, TokenStack  # noqa: E402

PW = "correct horse battery"


def audiences(cfg, stack):
    for r in cfg["routes"]:
        if r["path"] == "/operator/":
            r["audience"] = "operator"
        elif r["path"] == "/ssp/":
            r.update(audience="ssp", jwt_header="X-Portal-Jwt", jwt_claims=["name", "email"])


def person(st, login, roles=(), ssp=False, caller=False):
    r = st.admin("POST", "persons", {"login": login, "name": login.title(), "password": PW,
                                     "email": login + "@example.org", "roles": list(roles),
                                     "has_ssp_access": ssp, "is_caller": caller})
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


def echo(st, path, cookie, headers=None, conn=None):
    h = {"Cookie": "onegate_session=" + cookie}
    h.update(headers or {})
    r = st.http("GET", path, headers=h, conn=conn)
    assert r.status == 200, r
    return {k.lower(): v for k, v in json.loads(r.body)["headers"]}, json.loads(r.body)


def verify(st, token, aud):
    jwks = st.http("GET", "/.well-known/jwks.json").json()
    kid = jwt.get_unverified_header(token)["kid"]
    entry = next(k for k in jwks["keys"] if k["kid"] == kid)
    return jwt.decode(token, jwt.PyJWK.from_dict(entry).key, algorithms=[entry["alg"]],
                      audience=aud, issuer=ISSUER,
                      options={"require": ["exp", "iat", "nbf", "iss", "aud", "jti", "sub"]})


def test_forwarded_tokens():
    with TokenStack(edit=audiences) as st:
        pid = person(st, "olga", roles=["operator"], ssp=True, caller=True)
        c = session(st, "olga")
        hdrs, _ = echo(st, "/operator/echo", c, {"Authorization": "Bearer forged.by.client"})
        auth = hdrs["authorization"]
        assert auth.startswith("Bearer ") and "forged" not in auth, auth
        tok = auth[7:]
        claims = verify(st, tok, "operator")
        assert claims["sub"] == pid and claims["sub_type"] == "person", claims
        assert claims["roles"] == ["operator"] and claims["ssp_access"] is True
        assert claims["caller"] is True and len(claims["sid"]) == 22
        assert claims["exp"] - claims["iat"] == 300 and claims["nbf"] == claims["iat"]
        assert "name" not in claims and "email" not in claims
        assert c not in tok and claims["sid"] not in c       # never the cookie
        # reused while fresh: one keep-alive connection stays on one worker, whose cache
        # serves the same token
        conn = http.client.HTTPConnection("127.0.0.1", st.port, timeout=10)
        first = echo(st, "/operator/echo", c, conn=conn)[0]["authorization"]
        for _ in range(4):
            assert echo(st, "/operator/echo", c, conn=conn)[0]["authorization"] == first
        # the SSP route: own audience, own header, opt-in claims; client's copy replaced
        hdrs, _ = echo(st, "/ssp/echo", c, {"X-Portal-Jwt": "Bearer evil"})
        stok = hdrs["x-portal-jwt"][7:]
        sc = verify(st, stok, "ssp")
        assert sc["name"] == "Olga" and sc["email"] == "olga@example.org", sc
        assert sc["sid"] == claims["sid"] and "authorization" not in hdrs
        # a card change: the next request carries a token with the new roles
        r = st.admin("POST", f"persons/{pid}/roles", {"role": "application_manager"})
        assert r.status in (200, 201), r
        auth2 = echo(st, "/operator/echo", c)[0]["authorization"]
        assert auth2 != auth
        assert verify(st, auth2[7:], "operator")["roles"] == ["application_manager", "operator"]
        # a person token is not an API token
        r = st.http("GET", "/api/incidents", headers={"Authorization": auth2,
                                                      "Accept": "application/json"})
        assert r.status == 401 and 'error="invalid_token"' in r.header("WWW-Authenticate"), r
        # the log never shows a token or the cookie
        log = st.gw.log_text()
        assert tok not in log and c not in log


def test_session_jwt_endpoint():
    with TokenStack(edit=audiences) as st:
        person(st, "sam", roles=["operator"], ssp=True)
        c = session(st, "sam")
        conn = http.client.HTTPConnection("127.0.0.1", st.port, timeout=10)
        fwd = echo(st, "/operator/echo", c, conn=conn)[0]["authorization"][7:]
        same = {"Cookie": "onegate_session=" + c, "Sec-Fetch-Site": "same-origin"}
        r = st.http("GET", "/-/jwt?audience=operator", headers=same, conn=conn)
        assert r.status == 200 and r.header("Content-Type") == "application/jwt", r
        assert r.header("Cache-Control") == "no-store"
        assert r.body.decode() == fwd                   # the very token the portal gets
        r = st.http("GET", "/-/jwt?audience=ssp", headers=same)
        assert r.status == 200 and verify(st, r.body.decode(), "ssp")["name"] == "Sam"
        # which portal must be named when there are several; unknown names refused
        assert st.http("GET", "/-/jwt", headers=same).status == 400
        assert st.http("GET", "/-/jwt?audience=nope", headers=same).status == 400
        # cross-site, or no session: no token
        r = st.http("GET", "/-/jwt?audience=operator",
                    headers={"Cookie": "onegate_session=" + c, "Sec-Fetch-Site": "cross-site"})
        assert r.status == 403, r
        r = st.http("GET", "/-/jwt?audience=operator",
                    headers={"Cookie": "onegate_session=" + c,
                             "Origin": "https://evil.example"})
        assert r.status == 403, r
        r = st.http("GET", "/-/jwt?audience=operator", headers={"Sec-Fetch-Site": "same-origin"})
        assert r.status == 401, r
        r = st.http("GET", "/-/jwt?audience=operator",
                    headers={"Cookie": "onegate_session=" + "A" * 43})
        assert r.status == 401, r


if __name__ == "__main__":
    run_tests([test_forwarded_tokens, test_session_jwt_endpoint])
