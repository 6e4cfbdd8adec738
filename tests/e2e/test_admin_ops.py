#!/usr/bin/env python3
"""End-to-end: the admin API operations (auth/admin_ops.c) through `onegatectl admin-call`
against a real redis-server: status codes 200/201/400/404/405/409/422 with {error, detail},
a rejected body writes nothing, search scope, revocation results, API account secrets."""
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from dirtest_util import run_tests  # noqa: E402


def call(ctl, method, path, query=None, body=None):
    args = ["admin-call", method, path] + ([query] if query else [])
    if body is not None:
        args.append("--body-stdin")
    p = ctl.run(*args, stdin=(body if isinstance(body, str) else json.dumps(body)) if body is not None else None,
                check=False)
    status, _, rest = p.stdout.partition("\n")
    return int(status), json.loads(rest)


def test_person_crud_and_errors(r, ctl):
    st, p = call(ctl, "POST", "persons", body={"login": "amy", "email": "amy@example.org",
                                                "name": "Amy Pond", "roles": ["operator"]})
    assert st == 201 and p["login"] == "amy" and not p["has_ssp_access"], (st, p)
    before = r.dump_everything()
    for body, want in (([1, 2], 400), ("\"text\"", 400), ({"login": "x", "admin": True}, 422),
                       ({"login": 7}, 422), ({"login": "bad login"}, 422),
                       ({"login": "amy2", "roles": ["root"]}, 422), ({"email": "x@y.org"}, 422),
                       ({"login": "AMY"}, 409)):
        st, e = call(ctl, "POST", "persons", body=body)
        assert st == want and set(e) == {"error", "detail"} and e["detail"], (body, st, e)
    assert r.dump_everything() == before, "a rejected call wrote something"
    st, e = call(ctl, "PATCH", f"persons/{p['id']}", body={"has_ssp_access": "yes"})
    assert st == 422
    st, q = call(ctl, "PATCH", f"persons/{p['id']}", body={"has_ssp_access": True, "version": 1})
    assert st == 200 and q["has_ssp_access"] and q["version"] == 2
    st, e = call(ctl, "PATCH", f"persons/{p['id']}", body={"is_caller": True, "version": 1})
    assert st == 409 and e["error"] == "version_mismatch"
    st, q = call(ctl, "POST", f"persons/{p['id']}/roles", body={"role": "group:change-management"})
    assert st == 200 and "group:change-management" in q["roles"]
    st, q = call(ctl, "DELETE", f"persons/{p['id']}/roles/operator")
    assert st == 200 and q["roles"] == []
    assert call(ctl, "GET", "persons/00000000-0000-4000-8000-000000000000")[0] == 404
    assert call(ctl, "GET", "nothing-here")[0] == 404
    assert call(ctl, "PUT", "persons")[0] == 405
    assert call(ctl, "GET", f"persons/{p['id']}/roles")[0] == 405
    assert call(ctl, "PUT", f"persons/{p['id']}/roles/operator")[0] == 405
    assert call(ctl, "PUT", f"persons/{p['id']}")[0] == 405
    st, e = call(ctl, "DELETE", "operators/amy")
    assert st == 422 and p["id"] in e["detail"]


def test_lifecycle_and_search(r, ctl):
    ids = {}
    for login in ("caller1", "caller2", "caller3"):
        ids[login] = call(ctl, "POST", "persons", body={"login": login, "name": "Caller " + login})[1]["id"]
    call(ctl, "POST", "api-accounts", body={"client_id": "caller-api", "note": "Caller API"})
    r.cmd("SET", "og:s:x1", "s")
    r.cmd("SADD", f"og:{{dir}}:p:{ids['caller1']}:sessions", "og:s:x1")
    st, res = call(ctl, "POST", f"persons/{ids['caller1']}/archive", body={})
    assert st == 200 and res["revoked_sessions"] == 1 and r.cmd("EXISTS", "og:s:x1") == 0
    st, res = call(ctl, "GET", "persons", "q=call&limit=10")
    assert st == 200 and sorted(x["login"] for x in res["items"]) == ["caller2", "caller3"]
    assert call(ctl, "GET", "persons", "limit=0")[0] == 400
    st, res = call(ctl, "GET", "persons", "status=all")
    assert len(res["items"]) == 3
    assert call(ctl, "POST", f"persons/{ids['caller1']}/unarchive", body={})[1]["status"] == "active"
    st, res = call(ctl, "POST", f"persons/{ids['caller2']}/anonymize", body={})
    assert st == 200 and res["result"] == "anonymized"
    assert call(ctl, "PATCH", f"persons/{ids['caller2']}", body={"name": "Back"})[0] == 409
    st, res = call(ctl, "DELETE", f"persons/{ids['caller3']}")
    assert st == 200 and res["result"] == "deleted"
    assert call(ctl, "GET", f"persons/{ids['caller3']}")[0] == 404


def test_api_accounts(r, ctl):
    st, a = call(ctl, "POST", "api-accounts", body={"note": "generated id", "scopes": ["a:read"]})
    assert st == 201 and a["client_id"].startswith("api-") and a["client_secret"].startswith("ogs_")
    st, g = call(ctl, "GET", f"api-accounts/{a['client_id']}")
    assert st == 200 and "client_secret" not in g
    st, rot = call(ctl, "POST", f"api-accounts/{a['client_id']}/rotate", body={"overlap_ms": 1000})
    assert st == 200 and rot["client_secret"] != a["client_secret"]
    assert "previous_secret_valid_until_ms" in rot
    assert call(ctl, "POST", f"api-accounts/{a['client_id']}/rotate", body={"overlap_ms": -1})[0] == 422
    st, dis = call(ctl, "POST", f"api-accounts/{a['client_id']}/disable", body={})
    assert st == 200 and dis["status"] == "disabled"
    st, lst = call(ctl, "GET", "api-accounts")
    assert [x["client_id"] for x in lst["items"]] == [a["client_id"]]
    assert call(ctl, "GET", "persons", "q=api")[1]["items"] == []
    assert call(ctl, "DELETE", f"api-accounts/{a['client_id']}")[0] == 200
    assert call(ctl, "GET", f"api-accounts/{a['client_id']}")[0] == 404


if __name__ == "__main__":
    run_tests([test_person_crud_and_errors, test_lifecycle_and_search, test_api_accounts])
