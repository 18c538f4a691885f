#!/usr/bin/env python3
"""Replay Okta's "Okta SCIM 2.0 SPEC Test" against a SCIM server, without Runscope.

Okta publishes that suite as a Runscope "API Monitoring Test" export
(tests/fixtures/okta/Okta-SCIM-20-SPEC-Test.json; its README gives the source). This script
reads such an export and runs its request steps in order, as Runscope would:

* variables: `{{name}}` in URLs, headers, bodies and expected values is replaced; the
  initial values are the ones Okta's Initial_Script_Spec.txt sets (random Runscope names, an
  e-mail under atko.com, an id that does not exist), plus SCIMBaseURL and auth from the command
  line; a step's "variables" entries copy values out of its JSON response for later steps;
* assertions: sources response_status, response_time (ms) and response_json with a property
  path such as `Resources[0].name.familyName` (empty = the whole body); comparisons
  equal, equal_number, not_empty, has_value, contains, is_a_number, is_less_than;
* scripts: Runscope runs JavaScript, this replayer does not. Each script the suite carries is
  recognised by its text and checked by an equivalent Python function below; an unknown
  script fails its step rather than passing unseen;
* pause steps are skipped unless --pauses is given.

The suite's first steps read an existing user (Okta requires at least one in the app), so when
/Users is empty a seed user is created first; every user the run created is deleted at the end
unless --keep is given.

Usage: okta_spec.py [--pauses] [--keep] [--timeout S] SUITE.json BASE_URL
  The bearer token comes from SCIM_BEARER_TOKEN (auth = "Bearer <token>").
Output: "PASS"/"FAIL" and the step's note per request step, failed assertions below a FAIL,
then "N passed, N failed". Exit 0 when every step passed, 1 otherwise, 2 on usage errors.
Standard library only.
"""

import argparse
import json
import os
import random
import re
import string
import sys
import time
import urllib.error
import urllib.parse
import urllib.request

PLACEHOLDER = re.compile(r"\{\{(\w+)\}\}")
ABSENT = object()  # a property path that leads nowhere, or a body that is not JSON


class SuiteError(Exception):
    """The export uses a Runscope feature this replayer does not implement."""


def okta_initial_variables():
    """The values Okta's Initial_Script_Spec.txt puts in place before the first step."""
    digits, lower, upper = string.digits, string.ascii_lowercase, string.ascii_uppercase

    def pick(alphabet, n):
        return "".join(random.choice(alphabet) for _ in range(n))

    given = "Runscope" + pick(digits, 3)
    family = pick(upper, 1) + pick(lower, 8) + pick(digits, 3)
    email = f"{given}{family}@atko.com"
    return {
        "randomGivenName": given,
        "randomFamilyName": family,
        "randomEmail": email,
        "randomUsername": email,
        "randomUsernameCaps": email.upper(),
        "InvalidUserEmail": "abcdefgh@atko.com",
        "UserIdThatDoesNotExist": "010101001010101011001010101011",
        "randomGroupName": "Runscope" + pick(digits, 3),
    }


def fill(template, variables):
    """Replace {{name}} placeholders; an unknown name is left as it is, as Runscope does."""
    if template is None:
        return None
    return PLACEHOLDER.sub(lambda m: str(variables.get(m.group(1), m.group(0))), template)


def walk(document, path):
    """Follow a Runscope property path (`a.b[0].c`) through parsed JSON."""
    if not path:
        return document
    node = document
    for name, index in re.findall(r"([^.\[\]]+)|\[(\d+)\]", path):
        if name:
            if isinstance(node, dict) and name in node:
                node = node[name]
            else:
                return ABSENT
        else:
            if isinstance(node, list) and int(index) < len(node):
                node = node[int(index)]
            else:
                return ABSENT
    return node


def text_of(value):
    """How Runscope shows a JSON value when it compares it with an expected string."""
    if value is True:
        return "true"
    if value is False:
        return "false"
    if value is None:
        return "null"
    if isinstance(value, (list, dict)):
        return json.dumps(value, separators=(",", ":"))
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def holds(container, wanted):
    """True when `wanted` is one of the scalar values anywhere inside `container`."""
    if isinstance(container, list):
        return any(holds(item, wanted) for item in container)
    if isinstance(container, dict):
        return any(holds(item, wanted) for item in container.values())
    return text_of(container) == wanted


def as_number(value):
    if isinstance(value, bool) or value is ABSENT or value is None:
        raise ValueError("not a number")
    return float(value)


COMPARISONS = {
    "equal": lambda actual, wanted: actual is not ABSENT and text_of(actual) == wanted,
    "equal_number": lambda actual, wanted: as_number(actual) == float(wanted),
    "not_empty": lambda actual, _: actual not in (ABSENT, None, "", [], {}),
    "has_value": lambda actual, wanted: actual is not ABSENT and holds(actual, wanted),
    "contains": lambda actual, wanted: actual is not ABSENT
    and (holds(actual, wanted) if isinstance(actual, list) else wanted in text_of(actual)),
    "is_a_number": lambda actual, _: isinstance(actual, (int, float)) and not isinstance(actual, bool),
    "is_less_than": lambda actual, wanted: as_number(actual) < float(wanted),
}


def assertion_holds(assertion, response, variables):
    """Returns (ok, description) for one Runscope assertion."""
    source, comparison = assertion.get("source"), assertion.get("comparison")
    wanted = fill(assertion.get("value"), variables)
    prop = assertion.get("property") or ""
    if source == "response_status":
        actual = response["status"]
    elif source == "response_time":
        actual = response["ms"]
    elif source == "response_json":
        actual = walk(response["json"], prop) if response["json"] is not ABSENT else ABSENT
    else:
        raise SuiteError(f"assertion source {source!r}")
    if comparison not in COMPARISONS:
        raise SuiteError(f"comparison {comparison!r}")
    try:
        ok = COMPARISONS[comparison](actual, wanted)
    except (TypeError, ValueError):
        ok = False
    what = source + (f" {prop}" if prop else "")
    got = "nothing" if actual is ABSENT else text_of(actual)[:200]
    return ok, f"{what} {comparison}{'' if wanted is None else ' ' + repr(wanted)}: got {got}"


def groups_list_script(response):
    """Okta's script on "Verify Groups endpoint": no groups at all is fine; otherwise
    Resources must be an array."""
    body = response["json"]
    if not isinstance(body, dict):
        return False, "script: the body is not a JSON object"
    total = body.get("totalResults")
    if total == 0:
        return True, "script: no groups"
    if isinstance(total, int) and not isinstance(total, bool) and total >= 1 and isinstance(body.get("Resources"), list):
        return True, "script: Resources is an array"
    return False, f"script: totalResults is {total!r} and Resources is not an array"


# The scripts this replayer understands, by a fragment of their text.
KNOWN_SCRIPTS = [("Array.isArray(res)", groups_list_script)]


def run_script(source, response):
    for fragment, check in KNOWN_SCRIPTS:
        if fragment in source:
            return check(response)
    return False, "script not understood by this replayer (JavaScript): " + " ".join(source.split())[:80]


def encode_url(url):
    """Runscope sends `?filter=userName eq "x"` with raw spaces and quotes: percent-encode
    the path and each query key and value, leaving what is already encoded alone."""
    parts = urllib.parse.urlsplit(url)
    path = urllib.parse.quote(parts.path, safe="/%:@!$&'()*+,;=")
    pairs = []
    for item in parts.query.split("&") if parts.query else []:
        key, sep, value = item.partition("=")
        pairs.append(urllib.parse.quote(key, safe="%") + sep + urllib.parse.quote(value, safe="%"))
    return urllib.parse.urlunsplit((parts.scheme, parts.netloc, path, "&".join(pairs), parts.fragment))


def call(method, url, headers, body, timeout):
    data = None if body is None else body.encode("utf-8")
    request = urllib.request.Request(url, data=data, method=method, headers=headers)
    started = time.monotonic()
    try:
        with urllib.request.urlopen(request, timeout=timeout) as reply:
            status, raw = reply.status, reply.read()
    except urllib.error.HTTPError as err:
        status, raw = err.code, err.read()
    ms = (time.monotonic() - started) * 1000
    try:
        parsed = json.loads(raw) if raw else ABSENT
    except ValueError:
        parsed = ABSENT
    return {"status": status, "ms": ms, "json": parsed}


def step_headers(step, variables):
    headers = {}
    for name, values in (step.get("headers") or {}).items():
        values = values if isinstance(values, list) else [values]
        filled = [fill(v, variables) for v in values]
        filled = [v for v in filled if v]
        if filled:  # an empty {{auth}} means "no such header"
            headers[name] = ", ".join(filled)
    return headers


def seed_user_if_empty(base, headers, variables, timeout, created):
    listing = call("GET", base + "/Users?startIndex=1&count=1", headers, None, timeout)
    if listing["status"] != 200 or not isinstance(listing["json"], dict) or listing["json"].get("totalResults") != 0:
        return
    seed = {
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
        "userName": "seed." + variables["randomEmail"].lower(),
        "name": {"givenName": "Seed", "familyName": "User"},
        "displayName": "Seed User",
        "emails": [{"type": "work", "primary": True, "value": "seed." + variables["randomEmail"].lower()}],
        "active": True,
    }
    reply = call("POST", base + "/Users", dict(headers, **{"Content-Type": "application/scim+json"}),
                 json.dumps(seed), timeout)
    if reply["status"] == 201 and isinstance(reply["json"], dict) and reply["json"].get("id"):
        created.append(reply["json"]["id"])
        print(f"seed: /Users was empty, created user {reply['json']['id']} for the first steps")
    else:
        print(f"seed: /Users is empty and creating a seed user failed (HTTP {reply['status']})")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("suite", help="Runscope export, e.g. tests/fixtures/okta/Okta-SCIM-20-SPEC-Test.json")
    parser.add_argument("base_url", help="SCIM root, e.g. http://127.0.0.1:8080/scim/v2")
    parser.add_argument("--pauses", action="store_true", help="wait for the suite's pause steps")
    parser.add_argument("--keep", action="store_true", help="leave the users this run created")
    parser.add_argument("--timeout", type=float, default=30.0, help="seconds per request (default 30)")
    args = parser.parse_args()

    with open(args.suite, encoding="utf-8") as fh:
        suite = json.load(fh)
    token = os.environ.get("SCIM_BEARER_TOKEN", "")
    variables = okta_initial_variables()
    variables["SCIMBaseURL"] = args.base_url.rstrip("/")
    variables["auth"] = f"Bearer {token}" if token else ""
    base = variables["SCIMBaseURL"]
    auth = {"Authorization": variables["auth"]} if token else {}
    plain = dict(auth, Accept="application/scim+json")

    print(f"{suite.get('name', args.suite)} against {base}")
    started = time.monotonic()
    created = []
    try:
        seed_user_if_empty(base, plain, variables, args.timeout, created)
    except OSError as exc:
        print(f"seed: cannot read {base}/Users: {exc}")

    passed = failed = 0
    try:
        for step in suite.get("steps", []):
            kind = step.get("step_type")
            if step.get("skipped"):
                continue
            if kind == "pause":
                if args.pauses:
                    time.sleep(float(step.get("duration", 0)))
                continue
            if kind != "request":
                raise SuiteError(f"step type {kind!r}")
            note = " ".join(fill(step.get("note") or "(no note)", variables).split())
            method = step["method"]
            url = encode_url(fill(step["url"], variables))
            body = fill(step.get("body"), variables) or None
            try:
                response = call(method, url, step_headers(step, variables), body, args.timeout)
            except OSError as exc:
                failed += 1
                print(f"FAIL  {note}  [{method} {url}: {exc}]")
                continue

            problems = []
            for assertion in step.get("assertions", []):
                ok, said = assertion_holds(assertion, response, variables)
                if not ok:
                    problems.append(said)
            for script in step.get("scripts") or []:
                if script.strip():
                    ok, said = run_script(script, response)
                    if not ok:
                        problems.append(said)
            for extract in step.get("variables", []):
                if extract.get("source") != "response_json":
                    raise SuiteError(f"variable source {extract.get('source')!r}")
                value = walk(response["json"], extract.get("property")) if response["json"] is not ABSENT else ABSENT
                if value is not ABSENT:
                    variables[extract["name"]] = text_of(value)
            if method == "POST" and response["status"] == 201 and isinstance(response["json"], dict):
                if response["json"].get("id"):
                    created.append(response["json"]["id"])

            verdict = "FAIL" if problems else "PASS"
            print(f"{verdict}  {note}  [{method} -> {response['status']}, {response['ms']:.0f} ms]")
            for problem in problems:
                print(f"      {problem}")
            if problems:
                failed += 1
            else:
                passed += 1
    except SuiteError as exc:
        print(f"okta_spec.py cannot replay this suite: it uses {exc}", file=sys.stderr)
        return 2
    finally:
        if created and not args.keep:
            for user_id in created:
                try:
                    call("DELETE", f"{base}/Users/{urllib.parse.quote(user_id, safe='')}", auth, None, args.timeout)
                except OSError:
                    pass
            print(f"cleanup: deleted the {len(created)} user(s) this run created")

    print(f"{suite.get('name', 'suite')}: {passed + failed} request steps in {time.monotonic() - started:.1f}s")
    print(f"{passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
