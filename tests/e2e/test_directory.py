#!/usr/bin/env python3
"""End-to-end: the directory's invariants against a real redis-server, driven through
onegatectl — unique case-insensitive logins/emails, versions, search scope, revocation before
return (delete/archive/anonymize), anonymize leaves no trace in the whole keyspace, failed
multi-key writes leave nothing behind, operator deletion refused, schema guard."""
import os
import sys
import threading

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from dirtest_util import RespClient, run_tests  # noqa: E402


def add(ctl, login, email=None, *extra):
    args = ["person", "add", "--login", login] + (["--email", email] if email else []) + list(extra)
    return ctl.run(*args, json_out=True)


def plant_sessions(r, pid, n=2, with_pii=None):
    """What the sessions issue will write: session records + the person's index entries."""
    keys = []
    for i in range(n):
        k = f"og:s:{pid[:8]}{i}"
        r.cmd("HSET", k, "person", pid, "ua", "Mozilla/5.0", "ip", "192.0.2.7",
              *(["login_hint", with_pii] if with_pii else []))
        r.cmd("SADD", f"og:{{dir}}:p:{pid}:sessions", k)
        keys.append(k)
    t = f"og:tok:{pid[:8]}"
    r.cmd("SET", t, "jti-record")
    r.cmd("SADD", f"og:{{dir}}:p:{pid}:tokens", t)
    return keys + [t]


def test_unique_case_insensitive_and_versions(r, ctl):
    p = add(ctl, "Alice", "Alice@Example.org", "--name", "Alice Liddell")
    assert p["version"] == 1 and p["status"] == "active"
    assert not p["has_ssp_access"] and not p["is_caller"]
    for login, email in (("ALICE", "other@example.org"), ("bob", "alice@EXAMPLE.org")):
        res = ctl.run("person", "add", "--login", login, "--email", email, check=False)
        assert res.returncode == 3 and "already taken" in res.stderr, res.stderr
    assert ctl.run("person", "get", "aLiCe", json_out=True)["id"] == p["id"]
    assert ctl.run("person", "get", "ALICE@example.ORG", json_out=True)["id"] == p["id"]
    v = ctl.run("person", "set-flags", p["id"], "--ssp", "on", json_out=True)
    assert v["version"] == 2 and v["has_ssp_access"]
    v = ctl.run("person", "grant", p["id"], "operator", json_out=True)
    assert v["version"] == 3
    v = ctl.run("person", "update", p["id"], "--login", "alice2", json_out=True)
    assert v["version"] == 4
    # the old login is free again and the new one is taken; O(1) index entries follow
    assert r.cmd("HGET", "og:{dir}:idx:login", "alice") is None
    assert r.cmd("HGET", "og:{dir}:idx:login", "alice2") == p["id"]
    add(ctl, "alice", "new.alice@example.org")
    # non-ASCII logins are refused, not normalised
    res = ctl.run("person", "add", "--login", "ålice", check=False)
    assert res.returncode == 4, res.stderr


def test_search_only_active_persons(r, ctl):
    add(ctl, "searchme1", "s1@example.org", "--name", "Search Me")
    add(ctl, "searchme2", "s2@example.org", "--name", "Search Too")
    gone = add(ctl, "searchme3", "s3@example.org")
    ctl.run("person", "archive", gone["id"])
    ctl.run("api-account", "create", "--client-id", "searchme-api", "--note", "Search Me API")
    ctl.run("system-account", "create", "searchme-sys", "--description", "Search Me system")
    found = ctl.run("person", "list", "--query", "search", json_out=True)["items"]
    assert sorted(x["login"] for x in found) == ["searchme1", "searchme2"], found
    found = ctl.run("person", "list", "--query", "SEARCHME", json_out=True)["items"]
    assert sorted(x["login"] for x in found) == ["searchme1", "searchme2"], found
    found = ctl.run("person", "list", "--query", "too", json_out=True)["items"]
    assert [x["login"] for x in found] == ["searchme2"]
    # paging walks every active person exactly once
    for i in range(23):
        add(ctl, f"page{i:02d}")
    seen, cursor = [], None
    while True:
        args = ["person", "list", "--limit", "5"] + (["--cursor", cursor] if cursor else [])
        page = ctl.run(*args, json_out=True)
        seen += [x["login"] for x in page["items"]]
        cursor = page.get("next_cursor")
        if not cursor:
            break
    assert len(seen) == len(set(seen)) == 25, seen
    assert "searchme3" not in seen
    everyone = ctl.run("person", "list", "--all", "--limit", "100", json_out=True)["items"]
    assert len(everyone) == 26 and all("client_id" not in x for x in everyone)


def test_delete_revokes_before_returning(r, ctl):
    p = add(ctl, "deleteme", "deleteme@example.org", "--role", "operator")
    planted = plant_sessions(r, p["id"])
    sub = RespClient(r.port)
    sub._send(["SUBSCRIBE", "og:events"])
    sub._reply(True)
    out = ctl.run("person", "delete", "deleteme", json_out=True)
    assert out["revoked_sessions"] == 2 and out["revoked_tokens"] == 1
    # by the time the command returned, every session/token key and the card are gone
    assert r.cmd("EXISTS", *planted) == 0
    assert r.cmd("EXISTS", f"og:{{dir}}:p:{p['id']}") == 0
    assert r.cmd("HGET", "og:{dir}:idx:login", "deleteme") is None
    events = []
    sub.sock.settimeout(2)
    while len(events) < 2:
        events.append(sub._reply(True)[2])
    assert any('"person.deleted"' in e and p["id"] in e for e in events), events
    assert any('"person.revoked"' in e and '"reason":"delete"' in e for e in events), events
    res = ctl.run("person", "get", p["id"], check=False)
    assert res.returncode == 2


def test_archive_and_unarchive(r, ctl):
    p = add(ctl, "archme", "archme@example.org")
    planted = plant_sessions(r, p["id"])
    out = ctl.run("person", "archive", "archme", json_out=True)
    assert out["revoked_sessions"] == 2
    assert r.cmd("EXISTS", *planted) == 0
    assert ctl.run("person", "get", "archme", json_out=True)["status"] == "archived"
    assert ctl.run("person", "archive", "archme", check=False).returncode == 3
    back = ctl.run("person", "unarchive", "archme", json_out=True)
    assert back["status"] == "active"
    assert r.cmd("SCARD", f"og:{{dir}}:p:{p['id']}:sessions") == 0   # old sessions stay dead


def test_anonymize_leaves_no_trace(r, ctl):
    login, email, name = "Zebulon.Quux", "Zebulon.Quux@Secret-Domain.example", "Zebulon Quuxington"
    p = ctl.run("person", "add", "--login", login, "--email", email, "--name", name,
                "--role", "operator", "--password-stdin", stdin="a long password\n", json_out=True)
    ctl.run("person", "set-flags", p["id"], "--ssp", "on", "--caller", "on")
    ctl.run("person", "update", p["id"], "--name", name + " Jr")
    plant_sessions(r, p["id"], with_pii=login)
    r.cmd("SET", f"og:thr:a:{login.lower()}", "5")        # login throttle counters
    r.cmd("SET", f"og:thr:a:{email.lower()}", "2")
    add(ctl, "bystander", "bystander@example.org")
    ctl.run("person", "anonymize", login)
    needles = [s.lower().encode() for s in (login, email, "zebulon", "quux", "secret-domain")]
    for key, blob in r.dump_everything().items():
        low = blob.lower()
        for n in needles:
            assert n not in low, f"{n!r} still in {key}"
    q = ctl.run("person", "get", p["id"], json_out=True)
    assert q["status"] == "anonymized" and q["roles"] == [] and not q["has_password"]
    assert q["login"].startswith("anon-") and q.get("email") is None
    assert ctl.run("person", "list", "--query", "anon", json_out=True)["items"] == []
    assert ctl.run("person", "anonymize", p["id"], check=False).returncode == 3


def snapshot(r):
    return r.dump_everything()


def assert_same(before, after, what):
    diff = sorted(k for k in set(before) | set(after) if before.get(k) != after.get(k))
    assert not diff, f"{what} changed keys {diff}"


def test_injected_failure_leaves_nothing(r, ctl):
    p = add(ctl, "stable", "stable@example.org", "--role", "operator")
    plant_sessions(r, p["id"])
    for op, args in (("create", ["person", "add", "--login", "newbie", "--email", "n@example.org"]),
                     ("update", ["person", "set-flags", "stable", "--ssp", "on"]),
                     ("update", ["person", "update", "stable", "--login", "renamed"]),
                     ("grant", ["person", "grant", "stable", "application_manager"]),
                     ("archive", ["person", "archive", "stable"]),
                     ("anonymize", ["person", "anonymize", "stable"]),
                     ("delete", ["person", "delete", "stable"])):
        r.cmd("SET", "og:{dir}:debug:fail", op)
        before = snapshot(r)
        res = ctl.run(*args, check=False)
        assert res.returncode == 5 and "injected" in res.stderr, (op, res.stderr)
        assert_same(before, snapshot(r), f"failed {op}")
    r.cmd("DEL", "og:{dir}:debug:fail")
    # a real mid-script failure: a key of the wrong type; the script checks every key first
    r.cmd("DEL", "og:{dir}:idx:terms")
    r.cmd("SET", "og:{dir}:idx:terms", "not a sorted set")
    before = snapshot(r)
    res = ctl.run("person", "add", "--login", "another", check=False)
    assert res.returncode == 5 and "corrupt" in res.stderr, res.stderr
    res = ctl.run("person", "update", "stable", "--name", "New Name", check=False)
    assert res.returncode == 5
    assert_same(before, snapshot(r), "failed writes on a corrupt keyspace")
    # api accounts: same discipline
    r.cmd("DEL", "og:{dir}:idx:terms")
    ctl.run("api-account", "create", "--client-id", "made-first")   # creates the HMAC key once
    r.cmd("SET", "og:{api}:debug:fail", "create")
    before = snapshot(r)
    assert ctl.run("api-account", "create", "--client-id", "never-made", check=False).returncode == 5
    assert_same(before, snapshot(r), "failed api-account create")


def test_operator_delete_refused(r, ctl):
    p = add(ctl, "opsy", "opsy@example.org", "--role", "operator", "--role", "group:incident-management")
    res = ctl.run("operator", "delete", "opsy", check=False)
    assert res.returncode == 3
    assert p["id"] in res.stderr and "delete the person" in res.stderr, res.stderr
    assert ctl.run("person", "get", "opsy", json_out=True)["roles"] == ["group:incident-management", "operator"]
    # revoking the operator role drops its groups too
    q = ctl.run("person", "revoke", "opsy", "operator", json_out=True)
    assert q["roles"] == []
    assert ctl.run("person", "grant", "opsy", "group:x", check=False).returncode == 4


def test_schema_guard(r, ctl):
    add(ctl, "someone")
    assert r.cmd("GET", "og:{dir}:schema") == "1"
    r.cmd("SET", "og:{dir}:schema", "99")
    res = ctl.run("person", "list", check=False)
    assert res.returncode == 5 and "schema" in res.stderr and "upgrade" in res.stderr, res.stderr


def test_concurrent_writers_lose_nothing(r, ctl):
    p = add(ctl, "racy")
    roles = ["group:g%d" % i for i in range(8)]
    ctl.run("person", "grant", "racy", "operator")
    threads = [threading.Thread(target=ctl.run, args=("person", "grant", "racy", g)) for g in roles]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    q = ctl.run("person", "get", p["id"], json_out=True)
    assert sorted(q["roles"]) == sorted(roles + ["operator"]), q["roles"]
    assert q["version"] == 2 + len(roles)


if __name__ == "__main__":
    run_tests([test_unique_case_insensitive_and_versions, test_search_only_active_persons,
               test_delete_revokes_before_returning, test_archive_and_unarchive,
               test_anonymize_leaves_no_trace, test_injected_failure_leaves_nothing,
               test_operator_delete_refused, test_schema_guard,
               test_concurrent_writers_lose_nothing])
