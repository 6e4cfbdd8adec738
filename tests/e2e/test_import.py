#!/usr/bin/env python3
"""End-to-end: `onegatectl import` with tests/data/legacy-export.json against a real
redis-server — dry run writes nothing and announces exactly the real run's changes, the real
run creates persons (generated ones with both flags off), API/system accounts never get a
person card, a re-run changes nothing, an interrupted run completes on re-run, and every
conflict kind is reported (and --match-email resolves the email cases)."""
import json
import os
import re
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from dirtest_util import SOURCE, run_tests  # noqa: E402

EXPORT = os.path.join(SOURCE, "tests", "data", "legacy-export.json")


def summary(out):
    line = [l for l in out.splitlines() if l.startswith("summary:")][-1]
    return {k.strip(): int(v) for v, k in
            [(m.group(2), m.group(1)) for m in re.finditer(r"([a-z ]+?) (\d+)", line.split(":", 1)[1])]}


def test_committed_export_matches_generator(r, ctl):
    gen = subprocess.run([sys.executable, os.path.join(SOURCE, "tests/data/gen_legacy_export.py")],
                         capture_output=True, text=True, check=True).stdout
    assert json.loads(gen) == json.load(open(EXPORT, encoding="utf-8"))


def test_dry_run_then_real_then_rerun(r, ctl):
    dry = ctl.run("import", EXPORT, "--dry-run").stdout
    assert r.cmd("DBSIZE") == 0, "a dry run must write nothing"
    real = ctl.run("import", EXPORT).stdout
    changes = lambda out: sorted(l.replace("would ", "", 1) for l in out.splitlines()
                                 if re.match(r"(would )?(create|grant) ", l))
    assert changes(dry) == changes(real) and len(changes(real)) > 200
    s = summary(real)
    cards = [k for k in r.all_keys() if re.fullmatch(r"og:\{dir\}:p:[0-9a-f-]{36}", k)]
    assert len(cards) == s["persons created"] + s["persons generated for operators"]
    doc = json.load(open(EXPORT, encoding="utf-8"))
    # API and system accounts: their own keyspaces, never a person card
    logins = {r.cmd("HGET", k, "login_n") for k in cards}
    for a in doc["api_accounts"] + doc["system_accounts"]:
        assert (a.get("login") or a.get("name")).lower() not in logins
    assert r.cmd("ZCARD", "og:{api}:idx") == 6 and r.cmd("ZCARD", "og:{sys}:idx") == 4
    # generated persons: both flags off; each has the operator role
    gen = [l for l in real.splitlines() if "(generated person)" in l and l.startswith("create")]
    assert gen and all("ssp=off caller=off" in l and "operator" in l for l in gen)
    # re-run: nothing changes, byte for byte
    before = r.dump_everything()
    rerun = ctl.run("import", EXPORT).stdout
    assert not changes(rerun)
    s2 = summary(rerun)
    assert s2["unchanged persons"] == len(cards) and s2["unchanged accounts"] == 10
    assert r.dump_everything() == before


def test_conflict_report(r, ctl):
    out = ctl.run("import", EXPORT).stdout
    kinds = {m.group(1) for m in re.finditer(r"^conflict ([a-z-]+):", out, re.M)}
    assert {"email-match", "shared-person", "duplicate-login", "dangling-link",
            "duplicate-client-id"} <= kinds, kinds
    for line in out.splitlines():
        if line.startswith("conflict shared-person"):
            ops = re.findall(r"O-\d+", line)
            assert len(ops) == 2
            for o in ops:   # neither operator was linked or generated
                assert f"operator {o}" not in "\n".join(l for l in out.splitlines()
                                                        if l.startswith("create"))
    n_email = len(re.findall(r"^conflict email-match", out, re.M))
    assert n_email >= 3
    # --match-email links exactly those cases (roles granted onto the existing persons)
    fixed = ctl.run("import", EXPORT, "--match-email").stdout
    assert len(re.findall(r"^conflict email-match", fixed, re.M)) == 0
    granted = {m.group(1) for m in re.finditer(r"^grant person (\S+) \(\S+\) role operator$", fixed, re.M)}
    assert len(granted) == n_email


def test_interrupted_run_completes(r, ctl):
    doc = json.load(open(EXPORT, encoding="utf-8"))
    half = dict(doc, persons=doc["persons"][: len(doc["persons"]) // 2],
                operators=doc["operators"][:30], api_accounts=doc["api_accounts"][:2])
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
        json.dump(half, f)
    try:
        ctl.run("import", f.name)      # the "interrupted" first run
    finally:
        os.unlink(f.name)
    ctl.run("import", EXPORT)
    after_resume = {k: v for k, v in r.dump_everything().items()}
    ids_resume = sorted(k for k in after_resume if re.fullmatch(r"og:\{dir\}:p:[0-9a-f-]{36}", k))
    roles_resume = sorted((k, r.cmd("HGET", k, "roles")) for k in ids_resume)
    r.cmd("FLUSHALL")
    ctl.run("import", EXPORT)
    ids_clean = sorted(k for k in r.all_keys() if re.fullmatch(r"og:\{dir\}:p:[0-9a-f-]{36}", k))
    roles_clean = sorted((k, r.cmd("HGET", k, "roles")) for k in ids_clean)
    assert ids_resume == ids_clean and roles_resume == roles_clean


if __name__ == "__main__":
    run_tests([test_committed_export_matches_generator, test_dry_run_then_real_then_rerun,
               test_conflict_report, test_interrupted_run_completes])
