#!/usr/bin/env python3
"""Regenerates src/protobuf/fields.txt: the protobuf field numbers of the built-in types.

Usage: scripts/protobuf_fields.py <k8s-pb crate src dir> <dir with the openapi-v3 *.json documents> > src/protobuf/fields.txt

kubectl's typed commands (`kubectl create configmap|secret|deployment|namespace ...`, `kubectl run`)
send their object as protobuf. Reading that takes each type's field numbers, which live in the
upstream `generated.proto` files; the k8s-pb crate carries them as prost attributes
(`#[prost(string, optional, tag = "1")] pub name`). Field names there are snake_case, so the JSON
names come from the real server's OpenAPI documents (matched ignoring case and underscores).

One message per block: its definition name, then one line per field: `<tag> <json name> <shape>`,
where shape is `string`, `bytes`, `int32`, `int64`, `bool`, `double` or a definition name,
prefixed with `[]` for a repeated field and `{}` for a map with string keys. A trailing `!` marks
a field whose zero value is kept: Go's protobuf encoding writes every non-pointer field, zero or
not, while its JSON encoding leaves out the zero ones marked omitempty; required fields (no
omitempty) and the pointer fields in KEEP_ZERO (where zero means something; status counters of
the same names are plain omitempty integers) keep theirs. The
name `~` marks an embedded Go struct (`json:",inline"`) whose fields belong to the enclosing object.

Only definitions reachable from the kinds the testkit serves (ROOTS of openapi_defaults.py) are
written.
"""
import glob
import os
import re
import sys

from openapi_defaults import load_schemas, reachable_from_roots

# Pointer fields whose zero value is a choice, not an absence (`replicas: 0`, `runAsUser: 0`,
# `storageClassName: ""`): by JSON name, or as `<definition>.<name>` where the same name is a
# plain omitempty field elsewhere (EnvVar's `value`, a Probe's `timeoutSeconds`).
KEEP_ZERO = {
    "replicas", "backoffLimit", "backoffLimitPerIndex", "maxFailedIndexes", "parallelism",
    "completions", "activeDeadlineSeconds", "ttlSecondsAfterFinished", "startingDeadlineSeconds",
    "successfulJobsHistoryLimit", "failedJobsHistoryLimit", "suspend", "revisionHistoryLimit",
    "progressDeadlineSeconds", "terminationGracePeriodSeconds", "automountServiceAccountToken",
    "runAsUser", "runAsGroup", "runAsNonRoot", "fsGroup", "privileged", "readOnlyRootFilesystem",
    "allowPrivilegeEscalation", "immutable", "defaultMode", "mode", "optional", "minReplicas",
    "expirationSeconds", "seconds", "leaseDurationSeconds", "leaseTransitions",
    "deletionGracePeriodSeconds", "enableServiceLinks", "hostUsers", "shareProcessNamespace",
    "tolerationSeconds", "allocateLoadBalancerNodePorts", "setHostnameAsFQDN", "minDomains",
    "manualSelector", "endPort", "allowVolumeExpansion", "gracePeriodSeconds", "orphanDependents",
    "io.k8s.api.core.v1.PodDNSConfigOption.value",
    "io.k8s.api.core.v1.PodSpec.priority",
    "io.k8s.api.core.v1.PersistentVolumeClaimSpec.storageClassName",
    "io.k8s.api.core.v1.ClientIPConfig.timeoutSeconds",
    "io.k8s.api.admissionregistration.v1.MutatingWebhook.timeoutSeconds",
    "io.k8s.api.admissionregistration.v1.ValidatingWebhook.timeoutSeconds",
    "io.k8s.api.discovery.v1.EndpointConditions.ready",
    "io.k8s.api.discovery.v1.EndpointConditions.serving",
    "io.k8s.api.discovery.v1.EndpointConditions.terminating",
    "io.k8s.api.discovery.v1.EndpointPort.port",
    "io.k8s.apimachinery.pkg.apis.meta.v1.Preconditions.uid",
    "io.k8s.apimachinery.pkg.apis.meta.v1.Preconditions.resourceVersion",
}

# Messages a request body may hold besides the served kinds: the options of a delete and the
# scale subresource's object.
EXTRA_ROOTS = [
    "io.k8s.apimachinery.pkg.apis.meta.v1.DeleteOptions",
    "io.k8s.api.autoscaling.v1.Scale",
]

SCALARS = {"string": "string", "bytes": "bytes", "int32": "int32", "int64": "int64",
           "bool": "bool", "double": "double"}

FIELD = re.compile(
    r'#\[prost\((?P<attr>[^\]]*)\)\]\s*pub (?:r#)?(?P<name>\w+):\s*(?P<type>[^;{}]*?),\s*(?=///|#\[|\})',
    re.S)
STRUCT = re.compile(r'pub struct (\w+) \{(\}|.*?\n\})', re.S)


def package(path, src):
    """`src/api/core/v1/mod.rs` -> `io.k8s.api.core.v1` (the OpenAPI prefix)."""
    parts = os.path.relpath(os.path.dirname(path), src).split(os.sep)
    if parts[0] == "apiextensions_apiserver":
        parts[0] = "apiextensions-apiserver"
    if parts[0] == "kube_aggregator":
        parts[0] = "kube-aggregator"
    return parts


def resolve(module, rust_type):
    """The module path and struct name a field's Rust type names (inside Option/Vec/BTreeMap)."""
    inner = re.sub(r"\s+", "", rust_type).replace(",>", ">")
    inner = re.sub(r"::core::option::Option<|::prost::alloc::vec::Vec<|>", "", inner)
    if "," in inner:  # BTreeMap<String, X>
        inner = inner.split(",")[-1].strip()
    path = [p for p in inner.split("::") if p]
    here = list(module)
    while path and path[0] == "super":
        here.pop()
        path.pop(0)
    if path and path[0] == "prost":
        return None
    return here + path[:-1], path[-1]


def key(name):
    return name.replace("_", "").lower()


def main(src, openapi_dir):
    schemas = load_schemas(openapi_dir)
    by_key = {}
    for name in schemas:
        prefix, _, last = name.rpartition(".")
        by_key[(prefix.removeprefix("io.k8s."), key(last))] = name

    # Every k8s-pb struct, named by its OpenAPI definition or, for the embedded structs OpenAPI
    # flattens away (an Ingress rule's IngressRuleValue), by its module path and Rust name.
    structs = {}
    for path in glob.glob(os.path.join(src, "**", "mod.rs"), recursive=True):
        module = package(path, src)
        with open(path) as f:
            text = f.read()
        for struct, body in STRUCT.findall(text):
            name = by_key.get((".".join(module), key(struct)), "io.k8s." + ".".join(module + [struct]))
            fields = [(module, m.group("attr"), m.group("name"), m.group("type"))
                      for m in FIELD.finditer(body + "\n}")]
            structs[name] = fields

    def shape(module, attr, rust_type):
        kind = attr.split(",")[0].split("=")[0].strip()
        if kind == "btree_map" or kind == "map":
            value = attr.split('"')[1].split(",")[1].strip()
            prefix = "{}"
        else:
            value = kind
            prefix = "[]" if "repeated" in attr else ""
        if value in SCALARS:
            return prefix + SCALARS[value]
        target = resolve(module, rust_type)
        if target is None:
            return None
        module, struct = target
        name = by_key.get((".".join(module), key(struct)), "io.k8s." + ".".join(module + [struct]))
        return prefix + name if name in structs else None

    reachable = reachable_from_roots(schemas, EXTRA_ROOTS)
    blocks = {}

    def block(definition, schema):
        """The lines of one message, whose JSON properties are those of `schema`."""
        properties = {key(p): p for p in schema.get("properties", {})}
        required = set(schema.get("required", []))
        lines = []
        for module, attr, rust_name, rust_type in structs[definition]:
            json_name = properties.get(key(rust_name))
            tag = re.search(r'tag = "(\d+)"', attr)
            field_shape = shape(module, attr, rust_type)
            if tag is None or field_shape is None:
                continue
            if json_name is None:
                # An embedded Go struct (`json:",inline"`): its fields sit in this object, so
                # its own names are looked up among this object's properties.
                if field_shape not in structs or field_shape.startswith(("[]", "{}")):
                    continue
                embedded = schemas.get(field_shape)
                if embedded is None:
                    lines_of_embedded = block(field_shape, schema)
                    if not lines_of_embedded:
                        continue  # a field newer than the documents
                    blocks[field_shape] = lines_of_embedded
                else:
                    names = set(embedded.get("properties", {}))
                    if not names or not names <= set(schema.get("properties", {})):
                        continue
                json_name = "~"
            pointer = (json_name in KEEP_ZERO or f"{definition}.{json_name}" in KEEP_ZERO) \
                and not definition.endswith("Status")
            keep = "!" if json_name in required or pointer else ""
            lines.append((int(tag.group(1)), f"{tag.group(1)} {json_name} {field_shape}{keep}"))
        return [line for _, line in sorted(lines)]

    for definition in sorted(reachable):
        if definition in structs:
            blocks[definition] = block(definition, schemas[definition])

    print("# Generated by scripts/protobuf_fields.py from the k8s-pb crate (0.9.0) and the /openapi/v3")
    print("# documents of kube-apiserver v1.32; see the script for the format. Do not edit by hand.")
    for definition in sorted(blocks):
        print(definition)
        for line in blocks[definition]:
            print(" " + line)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
