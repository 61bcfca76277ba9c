"""A fake API server behind the kubectl calls a deploy makes, for the unit tests that need a
cluster's behaviour without one. It keeps what is applied and enforces the rules a deploy
meets on a real server:

- an object whose API is not served (a missing CRD) is rejected;
- a Deployment's or StatefulSet's `spec.selector` is immutable;
- a `metadata.resourceVersion` sent that is not the stored one is a conflict;
- `apply` takes the objects in order and stops at the first it rejects (exit 1), keeping
  those before it, each with a new resourceVersion (the uid kept) and, when its spec
  changed, a new generation;
- `delete -f -` removes what it names, the absent ones ignored.

Its controllers act at once: a workload is observed and ready at its generation, unless its
pod template carries NEVER_READY_LABEL (as kwok's simulated pods do, tests/e2e): then its
pods stay unready and the Deployment controller reports ProgressDeadlineExceeded.
`refuse_next` denies the next apply whole (an admission webhook), e.g. (1, "", "Error...").
`kubectl kustomize` and other calls without a cluster run for real; a kubectl call it does
not know fails the test."""

from __future__ import annotations

import json

from opskit.clusters.kwok import NEVER_READY_LABEL
from opskit.core import yamlio
from opskit.kube.ref import ObjectRef
from tests import fakes

SERVED = "v1\napps/v1\nbatch/v1\nnetworking.k8s.io/v1\npolicy/v1\nstorage.k8s.io/v1\n"
WORKLOADS = ("Deployment", "StatefulSet")


def _listed(items: list[dict]) -> str:
    return json.dumps({"apiVersion": "v1", "kind": "List", "items": items})


def documents(stdin: bytes) -> list[dict]:
    """The objects kubectl was given, a List's items one by one."""
    docs = yamlio.load_all(stdin, "kubectl's input")  # a deploy's YAML or a List
    return [i for d in docs for i in (d["items"] if d["kind"] == "List" else [d])]


class ApiServer:
    def __init__(self, objects=(), refuse_next: tuple[int, str, str] | None = None):
        self.objects: dict[ObjectRef, dict] = {}
        self.version = 0
        self.refuse_next = refuse_next
        self.stdin: dict[str, list[bytes]] = {}
        for obj in objects:
            self.objects[ObjectRef.of(obj)] = json.loads(json.dumps(obj))

    def __call__(self, argv, stdin):
        if "--kubeconfig" not in argv:  # kustomize, version probes: no cluster needed
            return fakes.real(argv, stdin)
        verb, rest = argv[5], argv[6:]
        self.stdin.setdefault(verb, []).append(stdin)
        if verb == "api-versions":
            return 0, SERVED, ""
        if verb in ("get", "logs"):
            return 0, self.get(rest, stdin), ""
        if verb == "apply":
            return self.apply(stdin)
        if verb == "delete" and rest[:2] == ("-f", "-"):
            for key in (ObjectRef.of(d) for d in documents(stdin)):
                self.objects.pop(key, None)
            return 0, "", ""
        raise AssertionError(f"the fake API server does not answer {argv[5:]}")

    def get(self, rest: tuple[str, ...], stdin: bytes) -> str:
        """What `kubectl get` (or `logs`) prints: the objects kubectl names, a namespace's
        workloads or pods; no events are kept and the pods log nothing."""
        if rest[:2] == ("-f", "-"):
            keys = [ObjectRef.of(d) for d in documents(stdin)]
            return _listed([self.read(k) for k in keys if k in self.objects])
        if rest[0] in ("events", "-n"):
            return ""
        namespace = rest[rest.index("-n") + 1]
        if rest[0] == "deployments,statefulsets,controllerrevisions":
            return _listed(self.listed(WORKLOADS, namespace))
        if rest[0] == "pods":
            selector = dict(kv.split("=", 1) for kv in rest[rest.index("-l") + 1].split(","))
            return _listed(self.pods(namespace, selector))
        raise AssertionError(f"the fake API server does not answer get {rest}")

    def apply(self, stdin: bytes) -> tuple[int, str, str]:
        if self.refuse_next is not None:
            refused, self.refuse_next = self.refuse_next, None
            return refused
        out: list[dict] = []
        for doc in documents(stdin):
            if problem := self.refused(doc):
                return 1, _listed(out), problem
            key = ObjectRef.of(doc)
            self.version += 1
            old = self.objects.get(key) or {"metadata": {}}
            meta = dict(doc["metadata"])
            meta["uid"] = old["metadata"].get("uid", f"u{self.version}")
            meta["resourceVersion"] = str(self.version)
            same = old.get("spec") == doc.get("spec")
            meta["generation"] = old["metadata"].get("generation", 0) + (0 if same else 1)
            self.objects[key] = {**doc, "metadata": meta}
            out.append(self.read(key))
        return 0, _listed(out), ""

    def edit(self, key: ObjectRef, change) -> None:
        """Someone else's change to a stored object: `change(obj)`, a new resourceVersion and
        generation, as the server gives it."""
        self.version += 1
        change(self.objects[key])
        meta = self.objects[key]["metadata"]
        meta["resourceVersion"] = str(self.version)
        meta["generation"] += 1

    def refused(self, doc: dict) -> str:
        """The API server's error for this object, or "" when it takes it."""
        ref = ObjectRef.of(doc)
        group = doc["apiVersion"].rpartition("/")[0] or "core"
        if doc["apiVersion"] not in SERVED.split():
            return (
                f'error: resource mapping not found for name: "{ref.name}": no matches for '
                f'kind "{ref.kind}" in version "{doc["apiVersion"]}"'
            )
        stored = self.objects.get(ref)
        if stored is None:
            return ""
        sent = doc["metadata"].get("resourceVersion")
        if sent is not None and sent != stored["metadata"]["resourceVersion"]:
            return (
                "Error from server (Conflict): Operation cannot be fulfilled on "
                f'{ref.kind.lower()}s.{group} "{ref.name}": the object has been modified; '
                "please apply your changes to the latest version and try again"
            )
        if ref.kind in WORKLOADS and doc["spec"]["selector"] != stored["spec"]["selector"]:
            return (
                f'Error from server (Invalid): {ref.kind}.apps "{ref.name}" is invalid: '
                "spec.selector: Invalid value: ...: field is immutable"
            )
        return ""

    def read(self, key: ObjectRef) -> dict:
        """The stored object as a read returns it: with the status its controller reports."""
        obj = json.loads(json.dumps(self.objects[key]))
        if key.kind in WORKLOADS:
            obj["status"] = self._status(obj)
        return obj

    def listed(self, kinds: tuple[str, ...], namespace: str) -> list[dict]:
        keys = [k for k in self.objects if k.kind in kinds and k.namespace == namespace]
        return [self.read(k) for k in sorted(keys)]

    def pods(self, namespace: str, selector: dict[str, str]) -> list[dict]:
        """One pod per workload whose pods the selector matches, Ready unless never-ready."""
        pods = []
        for workload in self.listed(WORKLOADS, namespace):
            labels = workload["spec"]["template"]["metadata"].get("labels") or {}
            if selector.items() - labels.items():
                continue
            ready = "False" if _never_ready(workload) else "True"
            reason = {"reason": "ContainersNotReady"} if ready == "False" else {}
            name = f"{workload['metadata']['name']}-0"
            conditions = [{"type": "Ready", "status": ready, **reason}]
            pods.append({"metadata": {"name": name}, "status": {"conditions": conditions}})
        return pods

    def _status(self, obj: dict) -> dict:
        want, generation = obj["spec"].get("replicas", 1), obj["metadata"]["generation"]
        ready = 0 if _never_ready(obj) else want
        if obj["kind"] == "StatefulSet":
            revision = f"{obj['metadata']['name']}-{generation}"
            return {
                "observedGeneration": generation,
                "readyReplicas": ready,
                "currentRevision": revision if ready else "",
                "updateRevision": revision,
            }
        status = {
            "observedGeneration": generation,
            "replicas": want,
            "updatedReplicas": want,
            "availableReplicas": ready,
        }
        if not ready:
            status["unavailableReplicas"] = want
            status["conditions"] = [
                {
                    "type": "Progressing",
                    "status": "False",
                    "reason": "ProgressDeadlineExceeded",
                    "message": f'ReplicaSet "{obj["metadata"]["name"]}" has timed out progressing.',
                }
            ]
        return status


def _never_ready(workload: dict) -> bool:
    labels = workload["spec"]["template"].get("metadata", {}).get("labels") or {}
    return labels.get(NEVER_READY_LABEL) == "true"
