#!/usr/bin/env python3
"""tests/e2e/test_oauth_manager.py — /oauth/introspect and /oauth/revoke for application
managers (issue 5: "callable by authenticated API accounts or application managers"): with a
session cookie instead of client credentials, from onegate's own origin only. A manager
introspects and revokes any API account's token (the revocation is effective on the bearer
path at once); other persons, missing or invalid sessions and cross-site calls are refused;
client credentials keep their own, narrower rights even when a manager's cookie comes along."""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from gwtest_util import run_tests  # noqa: E402
from tokentest_util import TokenStack  # noqa: E402

PW = "correct horse battery"


def person(st, login, roles=()):
    r = st.admin("POST", "persons", {"login": login, "name": login.title(), "password": PW,
                                     "roles": list(roles)})
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


def test_manager_introspects_and_revokes():
    with TokenStack() as st:
        mid = person(st, "alex", roles=["application_manager"])
        person(st, "olga", roles=["operator"])
        mgr, op = session(st, "alex"), session(st, "olga")
        a_id, a_secret = st.account(["incidents.read"])
        b_id, b_secret = st.account(["incidents.read"])
        tok = st.token(a_id, a_secret)
        assert st.bearer("/api/x", tok).status == 200
        same = {"Cookie": "onegate_session=" + mgr, "Origin": st.origin}

        # a manager's session, same origin: any account's token, full answer
        r = st.form("/oauth/introspect", {"token": tok}, headers=same)
        assert r.status == 200 and r.header("Cache-Control") == "no-store", r
        j = r.json()
        assert j["active"] is True and j["client_id"] == a_id, j
        assert j["sub_type"] == "api_account" and j["scope"] == "incidents.read", j
        r = st.form("/oauth/introspect", {"token": tok},
                    headers={"Cookie": "onegate_session=" + mgr,
                             "Sec-Fetch-Site": "same-origin"})
        assert r.status == 200 and r.json()["active"] is True, r
        # garbage and person tokens are simply inactive
        r = st.form("/oauth/introspect", {"token": "abc.def.ghi"}, headers=same)
        assert r.status == 200 and r.json() == {"active": False}, r

        # cross-site or no same-origin signal: refused before the session is looked at
        for h in ({"Origin": "https://evil.example"}, {"Sec-Fetch-Site": "cross-site"},
                  {"Sec-Fetch-Site": "same-site"}, {}):
            r = st.form("/oauth/introspect", {"token": tok},
                        headers=dict({"Cookie": "onegate_session=" + mgr}, **h))
            assert r.status == 403 and r.json()["error"] == "access_denied", (h, r)
            r = st.form("/oauth/revoke", {"token": tok},
                        headers=dict({"Cookie": "onegate_session=" + mgr}, **h))
            assert r.status == 403, (h, r)
        # a person without the role; an unknown session
        r = st.form("/oauth/introspect", {"token": tok},
                    headers={"Cookie": "onegate_session=" + op, "Origin": st.origin})
        assert r.status == 403 and "application_manager" in r.json()["error_description"], r
        r = st.form("/oauth/revoke", {"token": tok},
                    headers={"Cookie": "onegate_session=" + op, "Origin": st.origin})
        assert r.status == 403, r
        r = st.form("/oauth/introspect", {"token": tok},
                    headers={"Cookie": "onegate_session=" + "A" * 43, "Origin": st.origin})
        assert r.status == 401 and r.json()["error"] == "invalid_client", r
        # a session is no way to get a token
        r = st.form("/oauth/token", {"grant_type": "client_credentials"}, headers=same)
        assert r.status == 401 and r.json()["error"] == "invalid_client", r

        # client credentials win over a cookie: account B only sees its own tokens
        r = st.form("/oauth/introspect", {"token": tok}, basic=(b_id, b_secret), headers=same)
        assert r.status == 200 and r.json() == {"active": False}, r
        r = st.form("/oauth/revoke", {"token": tok}, basic=(b_id, b_secret), headers=same)
        assert r.status == 400 and r.json()["error"] == "unauthorized_client", r
        assert st.bearer("/api/x", tok).status == 200       # still valid

        # the manager revokes A's token: refused at once on the bearer path, inactive after
        r = st.form("/oauth/revoke", {"token": tok}, headers=same)
        assert r.status == 200 and r.body == b"", r
        r = st.bearer("/api/x", tok)
        assert r.status == 401 and "invalid_token" in r.header("WWW-Authenticate"), r
        r = st.form("/oauth/introspect", {"token": tok}, headers=same)
        assert r.json() == {"active": False}, r
        r = st.form("/oauth/introspect", {"token": tok}, basic=(a_id, a_secret))
        assert r.json() == {"active": False}, r
        # A's other tokens are untouched
        tok2 = st.token(a_id, a_secret)
        assert st.bearer("/api/x", tok2).status == 200

        log = st.gw.log_text()
        assert f"revoked by person:{mid}" in log, log[-3000:]
        for secret in (tok, tok2, mgr, op, a_secret, b_secret):
            assert secret not in log


if __name__ == "__main__":
    run_tests([test_manager_introspects_and_revokes])
