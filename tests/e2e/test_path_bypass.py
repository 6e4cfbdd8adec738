#!/usr/bin/env python3
"""End-to-end: request targets that the policy would decide as one path while the upstream
sees another must never reach the upstream. The example policy's narrow rule (POST
/ssp/requests needs is_caller) and its public route (/ssp/static/) are the targets:
- a fragment ('#') is not part of an HTTP request target (RFC 9112 §3.2); upstreams drop it,
  so "/ssp/requests#x" would be decided as a path outside /ssp/requests and served as
  /ssp/requests;
- path parameters (';'): Java servlet containers (the portals are Tomcat applications) remove
  ";params" from every segment before routing, so "/ssp/requests;x" is /ssp/requests and
  "/ssp/static/..;/requests" is /ssp/requests upstream.
Each is answered 400 by onegate; ';' in the query stays allowed."""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from gwtest_util import Stack, run_tests  # noqa: E402

PW = "correct horse battery"


def test_fragment_and_path_params_never_pass():
    with Stack() as st:
        r = st.admin("POST", "persons", {"login": "sspuser", "name": "Ssp User", "password": PW,
                                         "has_ssp_access": True, "is_caller": False})
        assert r.status == 201, r
        r = st.http("POST", "/-/login", body={"username": "sspuser", "password": PW})
        assert r.status == 200, r
        cookie = None
        for sc in r.headers_all("Set-Cookie"):
            k, _, rest = sc.partition("=")
            if k == "onegate_session":
                cookie = rest.split(";")[0]
        assert cookie
        h = {"Cookie": "onegate_session=" + cookie, "Accept": "application/json"}

        # the baseline: the narrow rule refuses a person who is not a caller
        r = st.http("POST", "/ssp/requests", headers=h, body=b"x")
        assert r.status == 403, r

        for target in ("/ssp/requests#x", "/ssp/requests#", "/ssp/x#/../requests",
                       "/ssp/requests;x", "/ssp/requests;jsessionid=1", "/ssp/x/..;/requests",
                       "/ssp/;/requests", "/ssp/.;/requests"):
            r = st.http("POST", target, headers=h, body=b"x")
            assert r.status == 400, (target, r)
        # anonymous, through the public route
        for target in ("/ssp/static/..;/requests", "/ssp/static/..;x/echo",
                       "/ssp/static/x#/../../echo"):
            r = st.http("GET", target, headers={"Accept": "application/json"})
            assert r.status == 400, (target, r)
        # absolute-form is decided on the same path
        raw = st.raw(b"POST http://127.0.0.1/ssp/requests;x HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                     b"Cookie: onegate_session=" + cookie.encode() +
                     b"\r\nContent-Length: 1\r\nConnection: close\r\n\r\nx")
        assert raw.startswith(b"HTTP/1.1 400 "), raw[:200]

        # still fine: ';' and '#'-free paths, ';' inside the query
        r = st.http("GET", "/ssp/echo?a=1;b=2", headers=h)
        assert r.status == 200, r
        r = st.http("GET", "/ssp/static/app.css")
        assert r.status == 200, r


if __name__ == "__main__":
    run_tests([test_fragment_and_path_params_never_pass])
