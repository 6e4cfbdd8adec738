#!/usr/bin/env python3
"""Generates a realistic legacy export (person cards, operator cards, API accounts, system
accounts) for `onegatectl import`, deterministic for a given seed.

    gen_legacy_export.py                    # the sample in tests/data/legacy-export.json
    gen_legacy_export.py --records 100000   # the benchmark export (about that many records)

Awkward cases planted (scaled with --records): operators linked to a person, unlinked
operators (get a generated person), unlinked operators whose email matches an unlinked person
(in another case), two operators pointing at one person, duplicate logins (between operators
and between an operator and a person), a link to a person missing from the export, archived
operators and persons, persons without a login (they log in by email), non-ASCII names,
group names that need normalising, API accounts (one duplicated), system accounts.
"""
import argparse
import json
import random
import sys

FIRST = ["Anna", "Bram", "Chloé", "Daan", "Eva", "Finn", "Gül", "Hugo", "Iris", "Jan", "Kim",
         "Lars", "Maud", "Noor", "Otto", "Pia", "Quinn", "Ruben", "Sanne", "Tijs", "Ümit",
         "Vera", "Wout", "Xandra", "Yara", "Zoë", "José", "Łucja", "Søren", "Aoife"]
LAST = ["de Vries", "Jansen", "Bakker", "Visser", "Smit", "Meijer", "van Dijk", "Mulder",
        "Bos", "Vos", "Peters", "Hendriks", "Dekker", "Brouwer", "O'Neill", "Müller",
        "Nováková", "García", "Nguyen", "Kowalski"]
GROUPS = ["Incident Management", "Change Management", "1st Line", "2nd Line / Network",
          "Facilities", "HR Service Desk"]
SCOPES = ["incidents:read", "incidents:write", "changes:read", "persons:read", "assets:read"]


def ascii_slug(s):
    table = str.maketrans("éüöçøłåáíóúñ", "euocolaaioun")
    out = "".join(c for c in s.lower().translate(table) if c.isascii() and (c.isalnum() or c in " -"))
    return out.replace(" ", "").replace("-", "")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--records", type=int, default=340)
    ap.add_argument("--seed", type=int, default=20260421)
    ap.add_argument("-o", "--output", default="-")
    a = ap.parse_args()
    rnd = random.Random(a.seed)
    n = max(a.records, 60)
    n_persons = int(n * 0.55)
    n_linked = int(n * 0.2)
    n_unlinked = int(n * 0.15)
    n_cases = max(2, n // 100)          # each awkward case, scaled
    used_logins = set()

    def name():
        return rnd.choice(FIRST), rnd.choice(LAST)

    def login_for(f, l, i):
        base = (ascii_slug(f)[:1] + ascii_slug(l))[:20] or "user"
        return f"{base}{i}"

    persons, operators, api, system = [], [], [], []
    for i in range(1, n_persons + 1):
        f, l = name()
        lg = login_for(f, l, i)
        p = {"id": f"P-{i:06d}", "first_name": f, "last_name": l,
             "email": f"{lg}@people.example.org",
             "ssp_access": rnd.random() < 0.8, "is_caller": rnd.random() < 0.7,
             "archived": rnd.random() < 0.03}
        if rnd.random() < 0.05:
            p["email"] = p["email"].upper()            # case must not matter
        if rnd.random() < 0.04:
            pass                                         # no login: logs in by email
        else:
            p["login"] = lg
        used_logins.add(lg.lower())
        persons.append(p)

    op_id = 0

    def operator(**kw):
        nonlocal op_id
        op_id += 1
        o = {"id": f"O-{op_id:06d}", "person_id": None, "groups": [],
             "application_manager": False, "archived": False}
        o.update(kw)
        if not o["groups"] and rnd.random() < 0.7:
            o["groups"] = rnd.sample(GROUPS, rnd.randint(1, 2))
        operators.append(o)
        return o

    # operators linked to their person (distinct persons; the person keeps its login)
    linkable = [p for p in persons[: n_linked + 4 * n_cases]]
    for p in linkable[:n_linked]:
        operator(login=p.get("login", p["email"].split("@")[0]) if rnd.random() < 0.85
                 else "op-" + p["id"].lower(),
                 email=p["email"], name=f'{p["first_name"]} {p["last_name"]}',
                 person_id=p["id"], application_manager=rnd.random() < 0.05,
                 archived=rnd.random() < 0.02)
    # two operators pointing at one person
    for p in linkable[n_linked:n_linked + n_cases]:
        for k in range(2):
            operator(login=f'shared{k}-{p["id"].lower()}', email=f'shared{k}.{p["id"].lower()}@ops.example.org',
                     name=f'{p["first_name"]} {p["last_name"]}', person_id=p["id"])
    # unlinked operators: a generated person each
    for i in range(n_unlinked):
        f, l = name()
        lg = "op." + login_for(f, l, 10000 + i)
        operator(login=lg, email=f"{lg}@ops.example.org", name=f"{f} {l}",
                 application_manager=rnd.random() < 0.05, archived=rnd.random() < 0.03)
    # unlinked operators whose email matches an unlinked person (different case)
    for p in persons[-n_cases * 2:][:n_cases]:
        operator(login="op-" + p["id"].lower(), email=p["email"].title(),
                 name=f'{p["first_name"]} {p["last_name"]}')
    # duplicate logins: two unlinked operators with one login, and one reusing a person's
    for i in range(n_cases):
        for k in range(2):
            operator(login=f"Dup.Login{i}", email=f"dup{i}.{k}@ops.example.org", name=f"Dup {i}-{k}")
        victim = persons[n_persons // 2 + i]
        if "login" in victim:
            operator(login=victim["login"].upper(), email=f"clash{i}@ops.example.org", name=f"Clash {i}")
    # links to persons missing from the export
    for i in range(n_cases):
        operator(login=f"ghost{i}", email=f"ghost{i}@ops.example.org", name=f"Ghost {i}",
                 person_id=f"P-9{i:06d}")

    n_api = max(6, n // 50)
    for i in range(n_api):
        api.append({"id": f"A-{i:05d}", "login": f"Integration_{i}",
                    "scopes": rnd.sample(SCOPES, rnd.randint(1, 3)),
                    "note": f"integration {i} (owner: team {rnd.randint(1, 9)})"})
    api.append({"id": f"A-{n_api:05d}", "login": "integration_0", "scopes": ["incidents:read"],
                "note": "accidental duplicate"})
    for i, nm in enumerate(["TOPdesk Scheduler", "Mail Import", "Event Engine", "Reporting Job"]):
        system.append({"id": f"S-{i:03d}", "name": nm, "description": f"built-in: {nm}"})

    doc = {"export": {"source": "legacy-cards", "format_version": 1, "seed": a.seed},
           "persons": persons, "operators": operators, "api_accounts": api,
           "system_accounts": system}
    out = sys.stdout if a.output == "-" else open(a.output, "w", encoding="utf-8")
    json.dump(doc, out, ensure_ascii=False, indent=1)
    out.write("\n")


if __name__ == "__main__":
    main()
