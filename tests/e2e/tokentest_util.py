"""tests/e2e/tokentest_util.py — helpers for the token tests (test_oauth, test_bearer,
test_jwks): signing keys made with certs/gen-keys.sh in the stack's temp dir, the jwt:/oauth:
config sections, API accounts through the admin API, and small HTTP helpers for the OAuth
endpoints. Built on gwtest_util.Stack (redis-server, demo portals, onegate)."""
import base64
import json
import os
import subprocess
import urllib.parse

from gwtest_util import SOURCE, Stack  # noqa: F401 (re-exported)
from harness import redis_cmd

ISSUER = "https://login.test"
GEN_KEYS = os.path.join(SOURCE, "certs", "gen-keys.sh")


def gen_key(directory, name, alg="ES256"):
    """certs/gen-keys.sh into <directory>; returns (private path, public path)."""
    args = ["sh", GEN_KEYS, "-o", directory, "-n", name, "-f"]
    if alg != "ES256":
        args += ["-a", alg, "-b", "2048"]
    subprocess.run(args, check=True, capture_output=True)
    return os.path.join(directory, name + ".key"), os.path.join(directory, name + ".pub")


def token_config(signing, published=(), oauth=None, jwt=None):
    """A config_edit for Stack: jwt: with <signing> (a key path) and <published> paths, and
    oauth: (dict of overrides)."""
    def edit(cfg):
        cfg["jwt"] = {"issuer": ISSUER, "signing_key": signing,
                      "published_keys": list(published)}
        cfg["jwt"].update(jwt or {})
        cfg["oauth"] = dict(oauth or {})
    return edit


class TokenStack(Stack):
    """A Stack whose onegate has jwt:/oauth: with a fresh ES256 key (self.key, self.pub).
    <edit>(cfg, stack) may change the config further before onegate starts."""

    def __init__(self, oauth=None, jwt=None, edit=None, alg="ES256"):
        self._oauth, self._jwt, self._edit, self._alg = oauth, jwt, edit, alg
        super().__init__(config_edit=self._config_edit)

    def _config_edit(self, cfg):
        self.key, self.pub = gen_key(self.tmpdir, "jwt-a", self._alg)
        token_config(self.key, (), self._oauth, self._jwt)(cfg)
        if self._edit:
            self._edit(cfg, self)

    def rcmd(self, *args):
        """One command on the stack's redis-server; the decoded reply."""
        return redis_cmd(self.redis.port, *args)

    def account(self, scopes=("incidents.read",), client_id=None):
        body = {"note": "e2e", "scopes": list(scopes)}
        if client_id:
            body["client_id"] = client_id
        r = self.admin("POST", "api-accounts", body)
        assert r.status == 201, r
        a = r.json()
        return a["client_id"], a["client_secret"]

    def form(self, path, fields, basic=None, headers=None, raw_auth=None):
        """POSTs <fields> (dict or list of pairs) form-encoded; <basic> = (id, secret) sends
        HTTP Basic with both parts form-encoded (RFC 6749 §2.3.1)."""
        h = {"Content-Type": "application/x-www-form-urlencoded"}
        if basic:
            cred = (urllib.parse.quote_plus(basic[0]) + ":" +
                    urllib.parse.quote_plus(basic[1])).encode()
            h["Authorization"] = "Basic " + base64.b64encode(cred).decode()
        if raw_auth:
            h["Authorization"] = raw_auth
        h.update(headers or {})
        body = urllib.parse.urlencode(fields)
        return self.http("POST", path, headers=h, body=body)

    def grant(self, cid, secret, scope=None, post=False):
        """A client_credentials grant; returns the Response."""
        f = {"grant_type": "client_credentials"}
        if scope is not None:
            f["scope"] = scope
        if post:
            f.update(client_id=cid, client_secret=secret)
            return self.form("/oauth/token", f)
        return self.form("/oauth/token", f, basic=(cid, secret))

    def token(self, cid, secret, scope=None):
        r = self.grant(cid, secret, scope)
        assert r.status == 200, r
        return r.json()["access_token"]

    def bearer(self, path, token, method="GET", headers=None):
        h = {"Authorization": "Bearer " + token}
        h.update(headers or {})
        return self.http(method, path, headers=h)


def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def b64url_decode(s):
    return base64.urlsafe_b64decode(s + "=" * (-len(s) % 4))


def parts(token):
    h, p, s = token.split(".")
    return json.loads(b64url_decode(h)), json.loads(b64url_decode(p)), s
