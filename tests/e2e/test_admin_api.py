#!/usr/bin/env python3
"""End-to-end: the admin API over HTTP (gateway/endpoints/admin_api.c) against the real
onegate, redis-server and demo portals: authentication, same-origin and Content-Type checks,
malformed and oversized bodies (nothing written), persons CRUD, search scope (never API or
system accounts), delete/archive/anonymize with revocation, API accounts, Redis down -> 503
and recovery, keep-alive."""
import time
import http.client
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from gwtest_util import ADMIN_TOKEN, Stack, redis_restart, run_tests  # noqa: E402


def is_error(resp, status, name=None):
    assert resp.status == status, resp
    j = resp.json()
    assert set(j) == {"error", "detail"} and j["detail"], j
    assert resp.header("Content-Type").startswith("application/json"), resp.headers
    if name:
        assert j["error"] == name, j
    return j


def test_auth_required():
    with Stack() as st:
        r = st.http("GET", "/admin/v1/persons")
        is_error(r, 401, "unauthenticated")
        assert r.header("WWW-Authenticate").startswith("Bearer"), r.headers
        for bad in ("Bearer wrong", "Bearer " + ADMIN_TOKEN[:-1], "Bearer " + ADMIN_TOKEN + "x",
                    "Basic " + ADMIN_TOKEN, ADMIN_TOKEN, "Bearer"):
            is_error(st.http("GET", "/admin/v1/persons", headers={"Authorization": bad}), 401)
        before = st.redis.dump_everything()
        r = st.http("POST", "/admin/v1/persons", body={"login": "intruder"},
                    headers={"Authorization": "Bearer nope"})
        is_error(r, 401)
        assert st.redis.dump_everything() == before
        r = st.admin("GET", "persons")
        assert r.status == 200 and r.json()["items"] == [], r
        assert r.header("Cache-Control") == "no-store"
        # the token never reaches a log
        assert ADMIN_TOKEN not in st.gw.log_text()


def test_persons_crud():
    with Stack() as st:
        r = st.admin("POST", "persons", {"login": "amy", "email": "amy@example.org",
                                         "name": "Amy Pond", "password": "correct horse 1",
                                         "roles": ["operator"]})
        assert r.status == 201, r
        p = r.json()
        assert p["login"] == "amy" and p["roles"] == ["operator"] and p["has_password"]
        assert not p["has_ssp_access"] and not p["is_caller"], "flags must start off"
        assert "correct horse" not in r.body.decode() and "argon2" not in r.body.decode()
        r = st.admin("GET", "persons/" + p["id"])
        assert r.status == 200 and r.json()["email"] == "amy@example.org"
        r = st.admin("PATCH", "persons/" + p["id"], {"has_ssp_access": True, "version": 1})
        assert r.status == 200 and r.json()["has_ssp_access"] and r.json()["version"] == 2
        is_error(st.admin("PATCH", "persons/" + p["id"], {"is_caller": True, "version": 1}), 409)
        is_error(st.admin("POST", "persons", {"login": "AMY"}), 409)
        is_error(st.admin("POST", "persons", {"login": "bad login"}), 422)
        is_error(st.admin("POST", "persons", {"login": "x", "admin": True}), 422)
        is_error(st.admin("GET", "persons/00000000-0000-4000-8000-000000000000"), 404)
        is_error(st.admin("GET", "no-such-thing"), 404)
        r = st.admin("POST", "persons/" + p["id"] + "/roles", {"role": "application_manager"})
        assert r.status == 200 and "application_manager" in r.json()["roles"]
        is_error(st.admin("DELETE", "operators/amy"), 422)
        r = st.admin("DELETE", "persons/" + p["id"])
        assert r.status == 200 and r.json()["result"] == "deleted", r
        is_error(st.admin("GET", "persons/" + p["id"]), 404)


def test_search_never_shows_accounts():
    with Stack() as st:
        for login, name in (("sync-alice", "Sync Alice"), ("sync-bob", "Sync Bob"),
                            ("sync-carol", "Sync Carol")):
            assert st.admin("POST", "persons", {"login": login, "name": name}).status == 201
        assert st.admin("POST", "api-accounts", {"client_id": "sync-api",
                                                 "note": "Sync integration"}).status == 201
        st.ctl().run("system-account", "create", "sync-scheduler", "--description", "Sync job")
        carol = st.admin("GET", "persons", query="q=sync-carol").json()["items"][0]
        assert st.admin("POST", f"persons/{carol['id']}/archive", {}).status == 200
        for q in ("q=sync", "q=Sync", "q=sync-", "q=s"):
            r = st.admin("GET", "persons", query=q + "&limit=50")
            assert r.status == 200, r
            logins = sorted(x["login"] for x in r.json()["items"])
            assert logins == ["sync-alice", "sync-bob"], (q, logins)
            assert "sync-api" not in r.body.decode() and "sync-scheduler" not in r.body.decode()
        r = st.admin("GET", "persons", query="status=all")
        assert sorted(x["login"] for x in r.json()["items"]) == ["sync-alice", "sync-bob",
                                                                  "sync-carol"]
        # paging
        r = st.admin("GET", "persons", query="limit=1")
        page1 = r.json()
        assert len(page1["items"]) == 1 and page1["next_cursor"]
        r = st.admin("GET", "persons", query="limit=1&cursor=" + page1["next_cursor"])
        assert r.json()["items"][0]["login"] != page1["items"][0]["login"]
        is_error(st.admin("GET", "persons", query="limit=0"), 400)


def test_delete_archive_anonymize_revoke():
    with Stack() as st:
        ids = {}
        for login in ("del", "arch", "anon"):
            r = st.admin("POST", "persons", {"login": login, "email": f"{login}.person@example.org",
                                             "name": f"Person {login.title()}"})
            ids[login] = r.json()["id"]
            # a session the sessions module would have written, indexed on the person
            key = f"og:s:test-{login}"
            st.redis.cmd("SET", key, "x")
            st.redis.cmd("SADD", f"og:{{dir}}:p:{ids[login]}:sessions", key)
        r = st.admin("POST", f"persons/{ids['arch']}/archive", {})
        assert r.status == 200 and r.json()["revoked_sessions"] == 1, r
        assert st.redis.cmd("EXISTS", "og:s:test-arch") == 0
        assert st.admin("GET", f"persons/{ids['arch']}").json()["status"] == "archived"
        r = st.admin("POST", f"persons/{ids['arch']}/unarchive", {})
        assert r.status == 200 and r.json()["status"] == "active"
        r = st.admin("POST", f"persons/{ids['anon']}/anonymize", {})
        assert r.status == 200 and r.json()["revoked_sessions"] == 1, r
        assert st.redis.cmd("EXISTS", "og:s:test-anon") == 0
        for blob in st.redis.dump_everything().values():
            assert b"anon.person@example.org" not in blob and b"Person Anon" not in blob
        is_error(st.admin("PATCH", f"persons/{ids['anon']}", {"name": "Back"}), 409)
        r = st.admin("DELETE", f"persons/{ids['del']}")
        assert r.status == 200 and r.json()["revoked_sessions"] == 1, r
        assert st.redis.cmd("EXISTS", "og:s:test-del") == 0
        is_error(st.admin("GET", f"persons/{ids['del']}"), 404)
        # an action takes an empty object, nothing else
        is_error(st.admin("POST", f"persons/{ids['arch']}/archive", {"now": True}), 422)


def test_api_accounts():
    with Stack() as st:
        r = st.admin("POST", "api-accounts", {"note": "CRM", "scopes": ["incidents.read"]})
        assert r.status == 201, r
        a = r.json()
        cid, secret = a["client_id"], a["client_secret"]
        assert secret.startswith("ogs_")
        ctl = st.ctl()
        assert ctl.run("api-account", "verify", cid, stdin=secret, check=False).returncode == 0
        r = st.admin("GET", "api-accounts/" + cid)
        assert r.status == 200 and "client_secret" not in r.json() and secret not in r.body.decode()
        r = st.admin("POST", f"api-accounts/{cid}/rotate", {})
        assert r.status == 200, r
        secret2 = r.json()["client_secret"]
        assert secret2 != secret
        assert ctl.run("api-account", "verify", cid, stdin=secret, check=False).returncode != 0
        assert ctl.run("api-account", "verify", cid, stdin=secret2, check=False).returncode == 0
        r = st.admin("POST", f"api-accounts/{cid}/disable", {})
        assert r.status == 200 and r.json()["status"] == "disabled"
        assert ctl.run("api-account", "verify", cid, stdin=secret2, check=False).returncode != 0
        r = st.admin("GET", "api-accounts")
        assert [x["client_id"] for x in r.json()["items"]] == [cid]
        assert st.admin("DELETE", "api-accounts/" + cid).status == 200
        is_error(st.admin("GET", "api-accounts/" + cid), 404)
        # secrets never reach a log
        assert secret not in st.gw.log_text() and secret2 not in st.gw.log_text()


def test_same_origin():
    with Stack() as st:
        before = st.redis.dump_everything()
        body = {"login": "csrf-victim"}
        for h in ({"Origin": "http://evil.example"}, {"Origin": "null"},
                  {"Origin": st.origin + ".evil.example"},
                  {"Origin": f"https://127.0.0.1:{st.port}"},
                  {"Sec-Fetch-Site": "cross-site"}, {"Sec-Fetch-Site": "same-site"},
                  {"Origin": st.origin, "Sec-Fetch-Site": "cross-site"}):
            r = st.admin("POST", "persons", body, headers=h)
            is_error(r, 403, "cross_origin")
            is_error(st.admin("GET", "persons", headers=h), 403, "cross_origin")
        assert st.redis.dump_everything() == before, "a cross-origin call wrote something"
        r = st.admin("POST", "persons", body, headers={"Origin": st.origin,
                                                       "Sec-Fetch-Site": "same-origin"})
        assert r.status == 201, r
        r = st.admin("GET", "persons", headers={"Sec-Fetch-Site": "none"})
        assert r.status == 200


def test_content_type_and_bodies():
    with Stack() as st:
        assert st.admin("GET", "persons").status == 200   # the directory stamps its schema
        before = st.redis.dump_everything()
        for ct in ("text/plain", "application/x-www-form-urlencoded", "multipart/form-data",
                   "application/jsonx", None):
            h = {"Content-Type": ct} if ct else {}
            r = st.http("POST", "/admin/v1/persons", headers=st.admin_headers(h),
                        body='{"login": "ct-test"}')
            is_error(r, 415, "unsupported_media_type")
        for bad in ('{"login": ', '{"login": "a"} trailing', '{"login": "a", "login": "b"}',
                    "\xff\xfe", "[1, 2", "nul\x00"):
            r = st.http("POST", "/admin/v1/persons",
                        headers=st.admin_headers({"Content-Type": "application/json"}),
                        body=bad.encode("latin-1"))
            is_error(r, 400)
        is_error(st.admin("POST", "persons", [1, 2]), 400)
        # over 1 MiB: refused from Content-Length, before the body is read
        head = (b"POST /admin/v1/persons HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer "
                + ADMIN_TOKEN.encode() + b"\r\nContent-Type: application/json\r\n"
                b"Content-Length: %d\r\n\r\n" % (1024 * 1024 + 1))
        out = st.raw(head + b"{" * 1000)
        assert out.startswith(b"HTTP/1.1 413"), out[:200]
        # and a chunked body that grows past it
        head = (b"POST /admin/v1/persons HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer "
                + ADMIN_TOKEN.encode() + b"\r\nContent-Type: application/json\r\n"
                b"Transfer-Encoding: chunked\r\n\r\n")
        chunk = b"10000\r\n" + b" " * 0x10000 + b"\r\n"
        out = st.raw(head + chunk * 16 + b"10\r\n" + b" " * 16 + b"\r\n")
        assert out.startswith(b"HTTP/1.1 413"), out[:200]
        assert st.redis.dump_everything() == before, "a refused body wrote something"
        r = st.http("POST", "/admin/v1/persons",
                    headers=st.admin_headers({"Content-Type": "Application/JSON; charset=utf-8"}),
                    body='{"login": "ct-ok"}')
        assert r.status == 201, r
        # DELETE without a body needs no Content-Type
        pid = r.json()["id"]
        assert st.http("DELETE", "/admin/v1/persons/" + pid,
                       headers=st.admin_headers()).status == 200
        # chunked JSON bodies are read too
        raw = (b"POST /admin/v1/persons HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer "
               + ADMIN_TOKEN.encode() + b"\r\nContent-Type: application/json\r\n"
               b"Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
               b"5\r\n{\"log\r\nd\r\nin\": \"chunk\"}\r\n0\r\n\r\n")
        out = st.raw(raw)
        assert out.startswith(b"HTTP/1.1 201"), out[:200]


def test_redis_down_503_and_recovery():
    with Stack() as st:
        assert st.admin("POST", "persons", {"login": "before"}).status == 201
        st.redis.conn.close()
        st.redis.stop_proc()
        for _ in range(2):
            r = st.admin("GET", "persons")
            is_error(r, 503)
            r = st.admin("POST", "persons", {"login": "during"})
            is_error(r, 503)
        redis_restart(st.redis)
        # Each of the gateway's Redis connections (event loop and work-pool threads) comes
        # back at its next reconnect attempt, within redis.reconnect_max_ms (2 s): until then
        # a call that needs it fails closed with 503 and writes nothing.
        deadline = time.time() + 5
        while True:
            r = st.admin("POST", "persons", {"login": "after"})
            if r.status != 503 or time.time() > deadline:
                break
            time.sleep(0.1)
        assert r.status == 201, r
        r = st.admin("GET", "persons")
        assert r.status == 200, r
        assert sorted(x["login"] for x in r.json()["items"]) == ["after", "before"], r


def test_keep_alive_many_calls():
    with Stack() as st:
        conn = http.client.HTTPConnection("127.0.0.1", st.port, timeout=15)
        for i in range(20):
            r = st.http("POST", "/admin/v1/persons", headers=st.admin_headers(),
                        body={"login": f"ka{i:02d}"}, conn=conn)
            assert r.status == 201, r
        r = st.http("GET", "/admin/v1/persons?limit=100", headers=st.admin_headers(), conn=conn)
        assert len(r.json()["items"]) == 20
        conn.close()


if __name__ == "__main__":
    run_tests([test_auth_required, test_persons_crud, test_search_never_shows_accounts,
               test_delete_archive_anonymize_revoke, test_api_accounts, test_same_origin,
               test_content_type_and_bodies, test_redis_down_503_and_recovery,
               test_keep_alive_many_calls])
