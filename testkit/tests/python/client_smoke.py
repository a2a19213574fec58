"""The official Python client against the testkit listener: list, create, watch one event.

Usage: client_smoke.py KUBECONFIG. Prints one JSON object with what it saw.
"""
import json
import sys

try:
    from kubernetes import client, config, watch
except ImportError as error:
    sys.exit(
        f"the Python kubernetes client is not installed ({error}); "
        "install it with: python3 -m pip install --user kubernetes"
    )

config.load_kube_config(config_file=sys.argv[1])
core = client.CoreV1Api()
namespaces = [n.metadata.name for n in core.list_namespace().items]
created = core.create_namespaced_config_map(
    "default",
    client.V1ConfigMap(
        metadata=client.V1ObjectMeta(name="from-python", labels={"made-by": "python"}),
        data={"mode": "fast"},
    ),
)
event = None
stream = watch.Watch()
for seen in stream.stream(
    core.list_namespaced_config_map,
    "default",
    label_selector="made-by=python",
    timeout_seconds=10,
):
    event = {
        "type": seen["type"],
        "name": seen["object"].metadata.name,
        "data": seen["object"].data,
        "resourceVersion": seen["object"].metadata.resource_version,
    }
    stream.stop()
    break
print(
    json.dumps(
        {
            "namespaces": namespaces,
            "created": {
                "uid": created.metadata.uid,
                "resourceVersion": created.metadata.resource_version,
            },
            "event": event,
        }
    )
)
