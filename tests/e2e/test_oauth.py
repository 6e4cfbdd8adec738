#!/usr/bin/env python3
"""tests/e2e/test_oauth.py — the OAuth2 endpoints for API accounts through real onegate,
redis-server and demo portals: client_credentials with HTTP Basic and client_secret_post,
scope subsets, every RFC 6749 §5.2 error, throttling of failed client authentication,
introspection (RFC 7662) and revocation (RFC 7009), what Redis holds (token record in the
account's index, revoked jti with a TTL), and a grant rate figure."""
import base64
import json
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from gwtest_util import run_tests  # noqa: E402
from tokentest_util import ISSUER, TokenStack, parts  # noqa: E402


def expect_error(r, status, error):
    assert r.status == status, r
    assert r.json()["error"] == error, r
    assert r.header("Cache-Control") == "no-store", r.headers


def test_grant_basic_and_post():
    with TokenStack() as st:
        cid, sec = st.account(scopes=["incidents.read", "incidents.write"])
        r = st.grant(cid, sec)
        assert r.status == 200, r
        assert r.header("Cache-Control") == "no-store" and r.header("Pragma") == "no-cache"
        assert r.header("Content-Type").startswith("application/json")
        j = r.json()
        assert j["token_type"] == "Bearer" and j["expires_in"] == 300, j
        assert sorted(j["scope"].split(" ")) == ["incidents.read", "incidents.write"], j
        hdr, claims, _ = parts(j["access_token"])
        assert hdr["alg"] == "ES256" and hdr["typ"] == "JWT" and len(hdr["kid"]) == 43, hdr
        assert claims["iss"] == ISSUER and claims["sub"] == cid and claims["client_id"] == cid
        assert claims["sub_type"] == "api_account" and "aud" not in claims
        assert claims["exp"] - claims["iat"] == 300 and len(claims["jti"]) == 22
        # client_secret_post, scope subset (a repeat is granted once)
        r = st.grant(cid, sec, scope="incidents.read incidents.read", post=True)
        assert r.status == 200 and r.json()["scope"] == "incidents.read", r
        assert parts(r.json()["access_token"])[1]["scope"] == "incidents.read"
        # id and secret form-encoded inside Basic (RFC 6749 §2.3.1): a custom client id with
        # characters that need no escaping still round-trips through quote_plus
        cid2, sec2 = st.account(client_id="crm.sync-1")
        assert st.grant(cid2, sec2).status == 200
        # every grant is a distinct token with its record in the account's index
        jti = claims["jti"]
        rec = st.rcmd("GET", "og:{api}:t:" + jti)
        assert rec == cid, rec
        ttl = int(st.rcmd("TTL", "og:{api}:t:" + jti))
        assert 300 < ttl <= 330, ttl                    # lifetime + leeway
        members = st.rcmd("SMEMBERS", f"og:{{api}}:a:{cid}:tokens")
        assert "og:{api}:t:" + jti in members, members
        # the secret and token never reach the logs
        log = st.gw.log_text()
        assert sec not in log and j["access_token"] not in log


def test_errors():
    with TokenStack(oauth={"token_lifetime_ms": 60000}) as st:
        cid, sec = st.account(scopes=["incidents.read"])
        expect_error(st.grant(cid, "ogs_wrong"), 401, "invalid_client")
        r = st.grant(cid, "ogs_wrong")
        assert r.header("WWW-Authenticate") == 'Basic realm="onegate"', r.headers
        expect_error(st.grant("no-such-client", sec), 401, "invalid_client")
        expect_error(st.form("/oauth/token", {"grant_type": "client_credentials"}), 401,
                     "invalid_client")
        expect_error(st.grant(cid, sec, scope="incidents.write"), 400, "invalid_scope")
        expect_error(st.grant(cid, sec, scope="incidents.read "), 400, "invalid_scope")
        expect_error(st.grant(cid, sec, scope=""), 400, "invalid_scope")
        expect_error(st.grant(cid, sec, scope='a"b'), 400, "invalid_scope")
        expect_error(st.form("/oauth/token", {"grant_type": "password", "username": "x"},
                             basic=(cid, sec)), 400, "unsupported_grant_type")
        expect_error(st.form("/oauth/token", {"scope": "x"}, basic=(cid, sec)), 400,
                     "invalid_request")
        # a parameter twice, two authentication methods, bad escapes, wrong content type
        expect_error(st.form("/oauth/token", [("grant_type", "client_credentials"),
                                              ("grant_type", "client_credentials")],
                             basic=(cid, sec)), 400, "invalid_request")
        expect_error(st.form("/oauth/token", {"grant_type": "client_credentials",
                                              "client_secret": sec}, basic=(cid, sec)),
                     400, "invalid_request")
        r = st.http("POST", "/oauth/token", headers={
            "Content-Type": "application/x-www-form-urlencoded",
            "Authorization": "Basic " + base64.b64encode(f"{cid}:{sec}".encode()).decode()},
            body="grant_type=client%zzcredentials")
        expect_error(r, 400, "invalid_request")
        r = st.http("POST", "/oauth/token", headers={"Content-Type": "application/json"},
                    body=json.dumps({"grant_type": "client_credentials"}))
        expect_error(r, 400, "invalid_request")
        expect_error(st.form("/oauth/token", {"grant_type": "client_credentials"},
                             raw_auth="Basic !!notbase64"), 401, "invalid_client")
        r = st.http("GET", "/oauth/token")
        assert r.status == 405 and r.header("Allow") == "POST", r
        big = {"grant_type": "client_credentials", "pad": "x" * 5000}
        assert st.form("/oauth/token", big, basic=(cid, sec)).status == 413
        # the configured lifetime
        assert st.grant(cid, sec).json()["expires_in"] == 60
        # a disabled account cannot get tokens, an enabled one can again
        assert st.admin("POST", f"api-accounts/{cid}/disable", {}).status == 200
        expect_error(st.grant(cid, sec), 401, "invalid_client")
        assert st.admin("POST", f"api-accounts/{cid}/enable", {}).status == 200
        assert st.grant(cid, sec).status == 200


def test_throttle():
    fig = {"throttle": {"client": {"free_failures": 2, "delay_base_ms": 2000,
                                   "delay_max_ms": 4000, "lock_failures": 5, "lock_ms": 60000,
                                   "window_ms": 60000}}}
    with TokenStack(oauth=fig) as st:
        cid, sec = st.account()
        other, osec = st.account()
        for _ in range(3):
            expect_error(st.grant(cid, "ogs_wrong"), 401, "invalid_client")
        # now a delay applies, even with the right secret: 429 with Retry-After
        r = st.grant(cid, sec)
        assert r.status == 429, r
        assert r.json()["error"] == "slow_down" and int(r.header("Retry-After")) >= 1, r
        # another client is not affected; counters live in their own key space
        assert st.grant(other, osec).status == 200
        assert st.rcmd("EXISTS", "og:oauth:thr:a:" + cid) == 1
        assert st.rcmd("EXISTS", "og:thr:a:" + cid) == 0
        # unknown clients are counted like known ones
        for _ in range(3):
            expect_error(st.grant("api-doesnotexist", "x"), 401, "invalid_client")
        assert st.grant("api-doesnotexist", "x").status == 429


def test_introspect_and_revoke():
    with TokenStack() as st:
        cid, sec = st.account()
        other, osec = st.account()
        tok = st.token(cid, sec)
        jti = parts(tok)[1]["jti"]
        r = st.form("/oauth/introspect", {"token": tok}, basic=(cid, sec))
        assert r.status == 200 and r.header("Cache-Control") == "no-store", r
        j = r.json()
        assert j["active"] is True and j["client_id"] == cid and j["scope"] == "incidents.read"
        assert j["token_type"] == "Bearer" and j["jti"] == jti and j["iss"] == ISSUER, j
        # another account learns nothing about it and cannot revoke it
        r = st.form("/oauth/introspect", {"token": tok}, basic=(other, osec))
        assert r.json() == {"active": False}, r
        expect_error(st.form("/oauth/revoke", {"token": tok}, basic=(other, osec)), 400,
                     "unauthorized_client")
        # garbage is simply inactive; revoking garbage is fine (RFC 7009 §2.2)
        r = st.form("/oauth/introspect", {"token": "abc.def.ghi"}, basic=(cid, sec))
        assert r.json() == {"active": False}
        assert st.form("/oauth/revoke", {"token": "abc"}, basic=(cid, sec)).status == 200
        expect_error(st.form("/oauth/introspect", {"token": tok}, basic=(cid, "bad")), 401,
                     "invalid_client")
        expect_error(st.form("/oauth/revoke", {}, basic=(cid, sec)), 400, "invalid_request")
        # revoke: 200, the jti is marked until exp (+ leeway), the record is gone
        assert st.bearer("/api/x", tok).status == 200
        r = st.form("/oauth/revoke", {"token": tok, "token_type_hint": "access_token"},
                    basic=(cid, sec))
        assert r.status == 200 and r.body == b"", r
        ttl = int(st.rcmd("TTL", "og:{api}:revoked:" + jti))
        assert 290 < ttl <= 330, ttl
        assert st.rcmd("EXISTS", "og:{api}:t:" + jti) == 0
        assert st.form("/oauth/introspect", {"token": tok},
                       basic=(cid, sec)).json() == {"active": False}
        # every worker refuses it at once (the cache was evicted through og:events)
        for _ in range(6):
            assert st.bearer("/api/x", tok).status == 401
        # post authentication works on both endpoints too
        tok2 = st.token(cid, sec)
        r = st.form("/oauth/introspect", {"token": tok2, "client_id": cid, "client_secret": sec})
        assert r.json()["active"] is True


def test_discovery_lists_endpoints():
    with TokenStack() as st:
        r = st.http("GET", "/.well-known/openid-configuration")
        assert r.status == 200, r
        d = r.json()
        assert d["issuer"] == ISSUER
        assert d["token_endpoint"] == ISSUER + "/oauth/token"
        assert d["introspection_endpoint"] == ISSUER + "/oauth/introspect"
        assert d["revocation_endpoint"] == ISSUER + "/oauth/revoke"
        assert d["jwks_uri"] == ISSUER + "/.well-known/jwks.json"
        assert d["grant_types_supported"] == ["client_credentials"]
        assert d["token_endpoint_auth_methods_supported"] == ["client_secret_basic",
                                                              "client_secret_post"]
        assert d["id_token_signing_alg_values_supported"] == ["ES256"]


def test_grant_rate():
    """Grants per second on one keep-alive connection (reported, loosely bounded)."""
    import http.client
    import urllib.parse
    with TokenStack() as st:
        cid, sec = st.account()
        conn = http.client.HTTPConnection("127.0.0.1", st.port, timeout=10)
        auth = "Basic " + base64.b64encode(
            (urllib.parse.quote_plus(cid) + ":" + urllib.parse.quote_plus(sec)).encode()).decode()
        h = {"Content-Type": "application/x-www-form-urlencoded", "Authorization": auth}
        n = 300
        t0 = time.time()
        for _ in range(n):
            conn.request("POST", "/oauth/token", body="grant_type=client_credentials", headers=h)
            resp = conn.getresponse()
            resp.read()
            assert resp.status == 200
        dt = time.time() - t0
        print(f"     {n / dt:.0f} sequential grants/s on one connection", flush=True)
        assert n / dt > 50


if __name__ == "__main__":
    run_tests([test_grant_basic_and_post, test_errors, test_throttle,
               test_introspect_and_revoke, test_discovery_lists_endpoints, test_grant_rate])
