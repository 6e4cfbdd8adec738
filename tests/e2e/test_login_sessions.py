#!/usr/bin/env python3
"""End-to-end: log in once, use both portals (issue 4) against the real onegate, redis-server
and the two demo portals: login page and form (CSRF), JSON login, whoami, portal switching
with one cookie, logout from either portal ends both, the example rules for every flag/role
combination, card changes and delete/archive/anonymize refused on the next request, fixation,
open redirects, brute force, idle and absolute expiry, cookie attributes, spoofed identity
headers, Redis down -> 503 (never pass), admin API by application_manager session."""
import html
import os
import re
import sys
import time
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from gwtest_util import ADMIN_TOKEN, Stack, redis_restart, run_tests  # noqa: E402

PW = "correct horse battery"


def person(st, login, roles=(), ssp=False, caller=False, password=PW):
    r = st.admin("POST", "persons", {"login": login, "name": login.title(), "password": password,
                                     "roles": list(roles), "has_ssp_access": ssp,
                                     "is_caller": caller})
    assert r.status == 201, r
    return r.json()["id"]


def login_json(st, login, password=PW, headers=None):
    return st.http("POST", "/-/login", body={"username": login, "password": password},
                   headers=headers)


def cookie_of(resp, name="onegate_session"):
    for sc in resp.headers_all("Set-Cookie"):
        k, _, rest = sc.partition("=")
        if k == name:
            return rest.split(";")[0]
    return None


def session(st, login, password=PW):
    r = login_json(st, login, password)
    assert r.status == 200, r
    c = cookie_of(r)
    assert c and len(c) == 43, r.headers
    return c


def get(st, path, cookie=None, method="GET", headers=None, body=None):
    h = dict(headers or {})
    if cookie:
        h["Cookie"] = "onegate_session=" + cookie
    return st.http(method, path, headers=h, body=body)


def login_form(st, login, password, return_to="", cookies=None, csrf=None):
    """The browser flow: GET the page (pre-login cookie + token), POST the form."""
    page = st.http("GET", "/-/login" + ("?return_to=" + urllib.parse.quote(return_to)
                                        if return_to else ""), headers={"Accept": "text/html"})
    assert page.status == 200, page
    pre = cookie_of(page, "onegate_session_csrf")
    token = re.search(rb'name="csrf" value="([^"]+)"', page.body).group(1).decode()
    rt = re.search(rb'name="return_to" value="([^"]*)"', page.body).group(1).decode()
    form = urllib.parse.urlencode({"csrf": csrf if csrf is not None else token,
                                   "return_to": html.unescape(rt), "username": login,
                                   "password": password})
    ck = "onegate_session_csrf=" + pre
    if cookies:
        ck += "; " + cookies
    return page, st.http("POST", "/-/login", body=form, headers={
        "Content-Type": "application/x-www-form-urlencoded", "Cookie": ck,
        "Accept": "text/html", "Origin": st.origin})


def test_login_page_accessible():
    with Stack() as st:
        r = st.http("GET", "/-/login", headers={"Accept": "text/html"})
        assert r.status == 200 and r.header("Content-Type").startswith("text/html"), r
        body = r.body.decode()
        assert '<label for="username">' in body and 'id="username" name="username"' in body
        assert '<label for="password">' in body and 'type="password"' in body
        assert "<script" not in body.lower()
        sc = r.header("Set-Cookie")
        assert sc.startswith("onegate_session_csrf=") and "HttpOnly" in sc and "SameSite" in sc
        assert r.header("Cache-Control") == "no-store"
        assert "frame-ancestors 'none'" in r.header("Content-Security-Policy")


def test_login_both_portals_logout_both():
    with Stack() as st:
        person(st, "olga", roles=["operator"], ssp=True, caller=True)
        page, r = login_form(st, "olga", PW, return_to="/ssp/requests")
        assert r.status == 303 and r.header("Location") == "/ssp/requests", r
        c = cookie_of(r)
        sc = [x for x in r.headers_all("Set-Cookie") if x.startswith("onegate_session=")][0]
        attrs = [a.strip() for a in sc.split(";")]
        assert "HttpOnly" in attrs and "SameSite=Lax" in attrs and "Path=/" in attrs, sc
        assert "Secure" not in attrs     # insecure_dev_cookies on loopback plain HTTP
        # the same cookie opens both portals, no second login
        for path, title in (("/ssp/echo", "Self-Service Portal"), ("/operator/echo",
                                                                  "Operator portal")):
            e = get(st, path, c)
            assert e.status == 200 and e.json()["portal"] == title, e
        who = get(st, "/-/session", c).json()
        assert who["person"]["login"] == "olga" and who["has_ssp_access"] and who["is_caller"]
        assert [p["name"] for p in who["portals"]] == ["ssp", "operator"]
        # logout from the operator portal's link (a same-origin GET) ends both
        r = get(st, "/-/logout", c, headers={"Sec-Fetch-Site": "same-origin",
                                             "Accept": "text/html"})
        assert r.status == 303 and r.header("Location") == "/-/login", r
        assert "Max-Age=0" in r.header("Set-Cookie")
        for path in ("/ssp/echo", "/operator/echo", "/-/session"):
            assert get(st, path, c).status == 401, path
        # a cross-site GET logout link does not log out: it shows a confirmation form
        c2 = session(st, "olga")
        r = get(st, "/-/logout", c2, headers={"Sec-Fetch-Site": "cross-site"})
        assert r.status == 200 and b'method="post"' in r.body
        assert get(st, "/ssp/echo", c2).status == 200
        r = get(st, "/-/logout", c2, method="POST", headers={"Accept": "application/json"})
        assert r.status == 200 and r.json()["result"] == "logged_out"
        assert get(st, "/ssp/echo", c2).status == 401


def test_rules_for_each_combination():
    """Each flag/role combination against each example rule."""
    cases = {
        # login: (roles, ssp, caller)
        "nobody": ((), False, False),
        "sspuser": ((), True, False),
        "caller": ((), True, True),
        "callernossp": ((), False, True),
        "op": (("operator",), False, False),
        "opfull": (("operator",), True, True),
        "mgr": (("application_manager",), False, False),
    }
    want = {
        "GET /ssp/home": {"sspuser", "caller", "opfull"},
        "POST /ssp/requests": {"caller", "opfull"},
        "GET /ssp/requests": {"sspuser", "caller", "opfull"},
        "GET /operator/home": {"op", "opfull"},
        "POST /operator/x": {"op", "opfull"},
        "GET /api/things": {"op", "opfull"},
    }
    with Stack() as st:
        cookies = {}
        for login, (roles, ssp, caller) in cases.items():
            person(st, login, roles, ssp, caller)
            cookies[login] = session(st, login)
        for req, allowed in want.items():
            method, path = req.split(" ")
            for login, c in cookies.items():
                r = get(st, path, c, method=method, body=b"x" if method == "POST" else None)
                exp = 200 if login in allowed else 403
                assert r.status == exp, (req, login, r)
                if exp == 403:
                    assert b"you" in r.body or b"needs" in r.body or b"cannot" in r.body, r
            r = get(st, path, None, method=method, body=b"x" if method == "POST" else None)
            assert r.status == 401, (req, "anonymous", r)
        # the 403 page names what is missing in user terms
        r = get(st, "/ssp/requests", cookies["sspuser"], method="POST", body=b"x")
        assert b"not registered as a caller" in r.body, r
        r = get(st, "/operator/home", cookies["sspuser"])
        assert b"operator" in r.body, r
        # public route: no cookie needed, no Redis needed
        assert get(st, "/ssp/static/app.css").status == 200
        log = st.gw.log_text()
        assert "policy: deny POST /ssp/requests" in log and "rule 0 at" in log


def test_card_changes_apply_next_request():
    with Stack() as st:
        pid = person(st, "flip", ssp=True, caller=True)
        c = session(st, "flip")
        assert get(st, "/ssp/home", c).status == 200
        assert st.admin("PATCH", "persons/" + pid, {"has_ssp_access": False}).status == 200
        assert get(st, "/ssp/home", c).status == 403
        assert st.admin("PATCH", "persons/" + pid, {"has_ssp_access": True}).status == 200
        assert get(st, "/ssp/home", c).status == 200
        assert st.admin("POST", f"persons/{pid}/roles", {"role": "operator"}).status == 200
        assert get(st, "/operator/home", c).status == 200
        assert st.admin("DELETE", f"persons/{pid}/roles/operator").status == 200
        assert get(st, "/operator/home", c).status == 403
        for action in ("archive", "anonymize", "delete"):
            pid2 = person(st, "gone-" + action, ssp=True)
            c2 = session(st, "gone-" + action)
            assert get(st, "/ssp/home", c2).status == 200
            if action == "delete":
                assert st.admin("DELETE", "persons/" + pid2).status == 200
            else:
                assert st.admin("POST", f"persons/{pid2}/{action}", {}).status == 200
            assert get(st, "/ssp/home", c2).status == 401, action
            assert get(st, "/-/session", c2).status == 401, action
        # admin: revoke a person's sessions
        c3 = session(st, "flip")
        assert st.admin("DELETE", f"persons/{pid}/sessions").status == 200
        assert get(st, "/ssp/home", c3).status == 401
        assert get(st, "/ssp/home", c).status == 401


def test_fixation():
    with Stack() as st:
        person(st, "fix", ssp=True)
        planted = "A" * 43
        page, r = login_form(st, "fix", PW, cookies="onegate_session=" + planted)
        assert r.status == 303
        new = cookie_of(r)
        assert new and new != planted
        assert get(st, "/ssp/home", planted).status == 401
        assert get(st, "/ssp/home", new).status == 200
        # a live session brought to a new login is ended, the new one works
        old = session(st, "fix")
        r = login_json(st, "fix", headers={"Cookie": "onegate_session=" + old})
        fresh = cookie_of(r)
        assert fresh != old and get(st, "/ssp/home", fresh).status == 200
        deadline = time.time() + 2
        while get(st, "/ssp/home", old).status != 401 and time.time() < deadline:
            time.sleep(0.05)
        assert get(st, "/ssp/home", old).status == 401


def test_open_redirects_refused():
    with Stack() as st:
        person(st, "redir", ssp=True, roles=["operator"])
        for bad in ("https://evil.example/", "//evil.example/ssp/", "/\\evil.example",
                    "http://127.0.0.1@evil.example/ssp/", "javascript:alert(1)",
                    "/ssp/../admin/v1/persons", "/ssp/%2e%2e/x", "/other/", "/ssp//x",
                    "/ssp/\r\nSet-Cookie: x=1", "https:/evil.example"):
            page, r = login_form(st, "redir", PW, return_to=bad)
            assert r.status == 303, (bad, r)
            assert r.header("Location") == "/ssp/", (bad, r.header("Location"))
            # also when posted directly in the form body
            token = re.search(rb'name="csrf" value="([^"]+)"', page.body).group(1).decode()
            pre = cookie_of(page, "onegate_session_csrf")
            r = st.http("POST", "/-/login", body=urllib.parse.urlencode(
                {"csrf": token, "return_to": bad, "username": "redir", "password": PW}),
                headers={"Content-Type": "application/x-www-form-urlencoded",
                         "Cookie": "onegate_session_csrf=" + pre})
            assert r.status == 303 and r.header("Location") == "/ssp/", (bad, r)
        page, r = login_form(st, "redir", PW, return_to="/operator/queue?x=1")
        assert r.header("Location") == "/operator/queue?x=1"


def test_csrf():
    with Stack() as st:
        person(st, "csrf", ssp=True)
        page, r = login_form(st, "csrf", PW, csrf="B" * 43)
        assert r.status == 403 and cookie_of(r) is None, r
        # no pre-login cookie at all
        r = st.http("POST", "/-/login", body=urllib.parse.urlencode(
            {"csrf": "C" * 43, "username": "csrf", "password": PW}),
            headers={"Content-Type": "application/x-www-form-urlencoded"})
        assert r.status == 403 and cookie_of(r) is None, r
        # cross-origin posts are refused before anything else
        for h in ({"Origin": "http://evil.example"}, {"Sec-Fetch-Site": "cross-site"}):
            r = st.http("POST", "/-/login", body={"username": "csrf", "password": PW},
                        headers=h)
            assert r.status == 403 and cookie_of(r) is None, r
            r = st.http("POST", "/-/logout", headers=h)
            assert r.status == 403
        # a plain form post to the JSON endpoint without the token does not log in
        r = st.http("POST", "/-/login", body="username=csrf&password=x",
                    headers={"Content-Type": "text/plain"})
        assert r.status == 415 and cookie_of(r) is None
        page, r = login_form(st, "csrf", PW)
        assert r.status == 303 and cookie_of(r)


def test_generic_errors_and_brute_force():
    def edit(cfg):
        cfg["sessions"]["throttle"] = {
            "account": {"free_failures": 2, "delay_base_ms": 1000, "delay_max_ms": 2000,
                        "lock_failures": 4, "lock_ms": 60000, "window_ms": 60000},
            "address": {"free_failures": 50, "lock_failures": 100}}
    with Stack(config_edit=edit) as st:
        person(st, "brute", ssp=True)
        r1 = login_json(st, "brute", "wrong password 1")
        r2 = login_json(st, "nosuchuser", "wrong password 1")
        assert r1.status == r2.status == 401 and r1.json() == r2.json(), (r1, r2)
        page, f1 = login_form(st, "brute", "wrong password")
        page, f2 = login_form(st, "nosuchuser", "wrong password")
        strip = lambda b: re.sub(rb'value="[^"]*"', b"", b)  # noqa: E731
        assert f1.status == f2.status == 401 and strip(f1.body) == strip(f2.body)
        # brute: 2 failures so far; the next ones get delays, then the lock
        statuses = [login_json(st, "brute", "wrong password x").status for _ in range(6)]
        assert 429 in statuses, statuses
        r = login_json(st, "brute")           # the right password, while locked
        assert r.status == 429 and r.header("Retry-After"), r
        # the same for a name that does not exist: nothing tells them apart
        statuses2 = [login_json(st, "ghost", "wrong password x").status for _ in range(6)]
        assert 429 in statuses2, statuses2
        assert "wrong password" not in st.gw.log_text()


def test_idle_and_absolute_expiry():
    def edit(cfg):
        cfg["sessions"].update({"idle_timeout_ms": 1500, "absolute_timeout_ms": 3000,
                                "refresh_interval_ms": 200})
    with Stack(config_edit=edit) as st:
        person(st, "exp", ssp=True)
        c = session(st, "exp")
        time.sleep(2.0)                       # idle past 1.5 s
        assert get(st, "/ssp/home", c).status == 401
        c = session(st, "exp")
        t0 = time.time()
        while time.time() - t0 < 2.6:         # kept busy: idle never runs out
            assert get(st, "/ssp/home", c).status == 200
            time.sleep(0.4)
        time.sleep(max(0, 3.3 - (time.time() - t0)))
        assert get(st, "/ssp/home", c).status == 401   # absolute lifetime over


def test_spoofed_identity_headers_never_reach_portal():
    def edit(cfg):
        cfg["sessions"]["strip_headers"] = ["X-Employee-Id"]
    with Stack(config_edit=edit) as st:
        pid = person(st, "spoof", ssp=True, roles=["operator"])
        c = session(st, "spoof")
        spoof = {"X-Forwarded-User": "root", "X-Auth-User": "root", "x-auth-roles": "admin",
                 "X-Onegate-Person": "00000000-0000-4000-8000-000000000000",
                 "X-Employee-Id": "1", "Authorization": "Bearer forged"}
        for path, ck in (("/ssp/echo", c), ("/operator/echo", c), ("/ssp/static/echo", None)):
            h = dict(spoof)
            h["Cookie"] = ("onegate_session=" + ck + "; theme=dark") if ck else "theme=dark"
            e = st.http("GET", path, headers=h)
            assert e.status == 200, (path, e)
            got = {k.lower(): v for k, v in e.json()["headers"]}
            for k in ("x-forwarded-user", "x-auth-user", "x-auth-roles", "x-employee-id"):
                assert k not in got, (path, k)
            assert got.get("x-onegate-person") == (pid if ck else None), (path, got)
            assert got.get("cookie") == "theme=dark", got
            if ck:
                assert "authorization" not in got
                assert ck not in e.body.decode()


def test_redis_down_fails_closed():
    with Stack() as st:
        person(st, "down", ssp=True)
        c = session(st, "down")
        assert get(st, "/ssp/home", c).status == 200
        st.redis.conn.close()
        st.redis.stop_proc()
        for _ in range(3):
            r = get(st, "/ssp/home", c)
            assert r.status == 503, r
            r = get(st, "/-/session", c)
            assert r.status == 503, r
        r = get(st, "/ssp/static/x")
        assert r.status == 200, r    # public: no Redis needed
        r = login_json(st, "down")
        assert r.status == 503, r
        redis_restart(st.redis)
        deadline = time.time() + 5
        while get(st, "/ssp/home", c).status != 200 and time.time() < deadline:
            time.sleep(0.1)
        r = get(st, "/ssp/home", c)
        assert r.status == 200, (r, st.gw.log_text()[-2000:])


def test_admin_api_by_session():
    with Stack() as st:
        person(st, "boss", roles=["application_manager"])
        person(st, "worker", roles=["operator"], ssp=True)
        boss, worker = session(st, "boss"), session(st, "worker")
        r = get(st, "/admin/v1/persons", boss)
        assert r.status == 200 and len(r.json()["items"]) == 2, r
        r = get(st, "/admin/v1/persons", worker)
        assert r.status == 403 and "application_manager" in r.json()["detail"], r
        r = st.http("POST", "/admin/v1/persons", body={"login": "new1"},
                    headers={"Cookie": "onegate_session=" + boss, "Origin": st.origin})
        assert r.status == 201, r
        r = st.http("POST", "/admin/v1/persons", body={"login": "new2"},
                    headers={"Cookie": "onegate_session=" + boss,
                             "Origin": "http://evil.example"})
        assert r.status == 403
        r = st.http("POST", "/admin/v1/persons", body="login=new3",
                    headers={"Cookie": "onegate_session=" + boss,
                             "Content-Type": "application/x-www-form-urlencoded"})
        assert r.status == 415
        # the bootstrap token is accepted from loopback (this test is loopback)...
        assert st.admin("GET", "persons").status == 200
        # ...but not from a client a trusted proxy says is elsewhere
        st.gw.reload(dict(st.gw.config, trusted_proxies=["127.0.0.1/32"]))
        r = st.http("GET", "/admin/v1/persons", headers={
            "Authorization": "Bearer " + ADMIN_TOKEN, "X-Forwarded-For": "203.0.113.9"})
        assert r.status == 401, r


if __name__ == "__main__":
    run_tests([test_login_page_accessible, test_login_both_portals_logout_both,
               test_rules_for_each_combination, test_card_changes_apply_next_request,
               test_fixation, test_open_redirects_refused, test_csrf,
               test_generic_errors_and_brute_force, test_idle_and_absolute_expiry,
               test_spoofed_identity_headers_never_reach_portal, test_redis_down_fails_closed,
               test_admin_api_by_session])
