#!/usr/bin/env python3
"""Evaluates the CEL of validating-admission-policy.yaml on sample updates: same term and higher
terms pass, lower or malformed terms are denied, unstamped objects are not matched. Exits non-zero
if any case disagrees.

Needs `pip install cel-python pyyaml`, so CI does not run it: CI only checks that deploy/ha renders
and deserializes into the k8s-openapi types (examples/echo-server/tests/deploy.rs). Run it by hand
after changing the policy's CEL."""
import pathlib
import sys

import celpy
import yaml

POLICY = pathlib.Path(__file__).with_name("validating-admission-policy.yaml")
spec = list(yaml.safe_load_all(POLICY.read_text()))[0]["spec"]
env = celpy.Environment()


def run(expr, act):
    return env.program(env.compile(expr)).evaluate(act)


def obj(term):
    o = {"metadata": {"name": "x"}}
    if term is not None:
        o["metadata"]["annotations"] = {"roperator.io/leader-term": term}
    return o


def admit(old, new):
    act = {"object": celpy.json_to_cel(obj(new)), "oldObject": celpy.json_to_cel(obj(old))}
    if not all(run(mc["expression"], act) for mc in spec["matchConditions"]):
        return "skip"
    variables = {v["name"]: run(v["expression"], act) for v in spec["variables"]}
    act["variables"] = celpy.json_to_cel(
        {k: (int(v) if isinstance(v, celpy.celtypes.IntType) else str(v)) for k, v in variables.items()}
    )
    return "allow" if run(spec["validations"][0]["expression"], act) else "deny"


CASES = [
    ("5", "5", "allow"),
    ("5", "6", "allow"),
    ("6", "5", "deny"),
    ("12", "9", "deny"),
    ("5", "x", "deny"),
    (None, "3", "skip"),
    ("5", None, "skip"),
]
failed = 0
for old, new, want in CASES:
    got = admit(old, new)
    print(f"old term {old!s:>4} -> new term {new!s:>4}: {got}")
    if got != want:
        print(f"  expected {want}")
        failed += 1
sys.exit(1 if failed else 0)
