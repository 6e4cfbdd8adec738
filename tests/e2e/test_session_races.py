#!/usr/bin/env python3
"""End-to-end: the race contract of issue 4, against the real onegate and redis-server.

Each round gives a person a live session, then runs at once: a request loop on that session,
two logins of the same person (their password checks run on the work pool) and one revoking
change made through the admin API at a random moment (delete, archive, anonymize, or clearing
has_ssp_access). Violations counted:
  - a request that STARTED after the revoking call returned and still passed (200);
  - any cookie, from before or from a racing login, that passes after the call returned.
Requests already in flight when the call returned may finish either way. Thousands of
interleavings in total; the test demands zero violations."""
import http.client
import os
import random
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from gwtest_util import Stack, run_tests  # noqa: E402
from test_login_sessions import PW, cookie_of, person, session  # noqa: E402

ROUNDS = int(os.environ.get("RACE_ROUNDS", "120"))
ACTIONS = ("delete", "archive", "anonymize", "clear_flag")


def status(port, cookie, conn=None):
    own = conn is None
    c = conn or http.client.HTTPConnection("127.0.0.1", port, timeout=15)
    try:
        c.request("GET", "/ssp/home", headers={"Cookie": "onegate_session=" + cookie})
        r = c.getresponse()
        r.read()
        return r.status
    finally:
        if own:
            c.close()


def no_address_throttle(cfg):
    """Every racing login comes from 127.0.0.1 and many fail by design."""
    cfg["sessions"]["throttle"] = {
        "address": {"free_failures": 1000000, "lock_failures": 2000000}}


def test_revocation_races():
    rnd = random.Random(4)
    with Stack(config_edit=no_address_throttle) as st:
        violations, after, interleavings = [], 0, 0
        for i in range(ROUNDS):
            action = ACTIONS[i % len(ACTIONS)]
            login = f"race{i}"
            pid = person(st, login, ssp=True)
            c0 = session(st, login)
            stop = threading.Event()
            seen = []                          # (started, status) of the request loop
            racing = []                        # cookies the racing logins obtained

            def requester():
                conn = http.client.HTTPConnection("127.0.0.1", st.port, timeout=15)
                while not stop.is_set():
                    t = time.monotonic()
                    seen.append((t, status(st.port, c0, conn)))
                conn.close()

            def loginer():
                r = st.http("POST", "/-/login", body={"username": login, "password": PW})
                if r.status == 200:
                    racing.append(cookie_of(r))

            threads = [threading.Thread(target=requester)] + \
                      [threading.Thread(target=loginer) for _ in range(2)]
            for t in threads:
                t.start()
            time.sleep(rnd.uniform(0, 0.03))
            if action == "delete":
                r = st.admin("DELETE", "persons/" + pid)
            elif action == "clear_flag":
                r = st.admin("PATCH", "persons/" + pid, {"has_ssp_access": False})
            else:
                r = st.admin("POST", f"persons/{pid}/{action}", {})
            assert r.status == 200, (action, r)
            returned = time.monotonic()
            time.sleep(0.01)                   # let the loop run past the change
            for t in threads[1:]:
                t.join()
            stop.set()
            threads[0].join()
            for started, s in seen:
                interleavings += 1
                if started > returned:
                    after += 1
                    if s == 200:
                        violations.append((i, action, "request after revocation passed"))
            for c in [c0] + racing:
                interleavings += 1
                if status(st.port, c) == 200:
                    violations.append((i, action, "a session survived the change"))
        print(f"rounds {ROUNDS}, interleavings {interleavings}, requests started after the "
              f"change {after}, violations {len(violations)}")
        assert after > ROUNDS, "the request loop never ran after the change: test too weak"
        assert not violations, violations[:10]


if __name__ == "__main__":
    run_tests([test_revocation_races])
