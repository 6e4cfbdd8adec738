#!/usr/bin/env python3
"""tests/e2e/test_quickstart_config.py — the quick start's config template
(deploy/onegate.quickstart.yaml) as deploy/quickstart.sh renders it: the script fills in
exactly the template's @NAME@ placeholders, the result (with a key made by certs/gen-keys.sh
in keys/ next to it, as the script does in var/) passes `onegate --check-config`, and it gives
the portals their audiences with tokens on. Starting the quick start itself is left to
people: it builds into build/ and uses fixed ports."""
import os
import re
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from gwtest_util import SOURCE, onegate_exe, run_tests  # noqa: E402

TEMPLATE = os.path.join(SOURCE, "deploy", "onegate.quickstart.yaml")
SCRIPT = os.path.join(SOURCE, "deploy", "quickstart.sh")


def test_template_renders_and_loads():
    text = open(TEMPLATE).read()
    wanted = set(re.findall(r"@([A-Z_]+)@", text))
    script = open(SCRIPT).read()
    filled = set(re.findall(r"t=\$\{t//@([A-Z_]+)@/", script))
    assert wanted == filled == {"ONEGATE_PORT", "OPERATOR_PORT", "SSP_PORT", "REDIS_PORT",
                                "VAR"}, (wanted, filled)
    assert "deploy/onegate.quickstart.yaml" in script and "--jwks-url" in script
    with tempfile.TemporaryDirectory(prefix="og-qs-") as var:
        values = {"ONEGATE_PORT": "18080", "OPERATOR_PORT": "19101", "SSP_PORT": "19102",
                  "REDIS_PORT": "16390", "VAR": var}
        out = re.sub(r"@([A-Z_]+)@", lambda m: values[m.group(1)], text)
        conf = os.path.join(var, "onegate.yaml")
        with open(conf, "w") as f:
            f.write(out)
        # without the key: refused, naming the key file
        p = subprocess.run([onegate_exe(), "--check-config", conf], capture_output=True)
        assert p.returncode == 1 and b"keys/onegate-jwt.key" in p.stderr, p
        subprocess.run(["sh", os.path.join(SOURCE, "certs", "gen-keys.sh"), "-o",
                        os.path.join(var, "keys"), "-n", "onegate-jwt"], check=True,
                       capture_output=True)
        p = subprocess.run([onegate_exe(), "--check-config", conf], capture_output=True)
        assert p.returncode == 0, p.stderr.decode()
        assert "issuer: http://127.0.0.1:18080" in out
        assert re.search(r"path: /operator/.*\n\s+upstream: operator\s+audience: operator-portal",
                         out), out
        assert re.search(r"path: /ssp/ .*\n\s+upstream: ssp\s+audience: ssp", out), out


if __name__ == "__main__":
    run_tests([test_template_renders_and_loads])
