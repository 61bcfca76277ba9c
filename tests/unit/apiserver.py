"""A fake API server behind the kubectl calls a deploy makes, for the unit tests that need a
cluster's behaviour without one. It keeps what is applied and enforces the rules a deploy
meets on a real server:

- an object whose API is not served (a missing CRD) is rejected;
- a Deployment's or StatefulSet's `spec.selector` is immutable;
- a `metadata.resourceVersion` sent that is not the stored one is a conflict;
- `apply` takes the objects in order and stops at the first it rejects (exit 1), keeping
  those before it, each with a new resourceVersion (the uid kept) and, when its spec
  changed, a new generation;
- `delete -f -` removes what it names; an absent one is NotFound (exit 1) unless
  `--ignore-not-found`; an object holding a finalizer no controller here removes stays,
  so a delete that waits for it (without `--wait=false`) times out;
- `get -f -` of an absent object is NotFound unless `--ignore-not-found`.

kubectl's own checks come first, as kubectl makes them before it calls the server: a flag
it does not have, an argument it does not take, an output format it has not (the fake
prints JSON only: `-o json`, else kubectl's table), and stdin as kubectl decodes it (any
JSON or YAML with `items` is a list, whatever its `kind` and `apiVersion` say; a document
without `kind` is an error).

Its controllers act at once: a workload is observed and ready at its generation, unless its
pod template carries NEVER_READY_LABEL (as kwok's simulated pods do, tests/e2e): then its
pods stay unready and the Deployment controller reports ProgressDeadlineExceeded.
`refuse_next` denies the next apply whole (an admission webhook), e.g. (1, "", "Error...").
`rollout_reads=N` makes the controllers slower: a workload whose spec an apply changed is
observed (then ready) only after N reads of its namespace's workloads; `lag(key, N)` does the
same to one workload without a change (its pods restarting).
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
CLUSTER_SCOPED = {"pv": "PersistentVolume"}  # what `kubectl get <it>` lists without -n


def _listed(items: list[dict]) -> str:
    return json.dumps({"apiVersion": "v1", "kind": "List", "items": items})


# kubectl's flags for the verbs a deploy uses: name -> takes a value (`--name=v`, `-x v`)
FLAGS = {
    "apply": {"--server-side": False, "--force-conflicts": False, "--field-manager": True,
              "--validate": True, "--dry-run": True, "--output": True, "-o": True, "-f": True,
              "-n": True},
    "get": {"-f": True, "--ignore-not-found": False, "--output": True, "-o": True, "-n": True,
            "-l": True, "--sort-by": True, "--no-headers": False},
    "delete": {"-f": True, "--ignore-not-found": False, "--wait": False, "-n": True},
    "logs": {"-n": True, "--all-containers": False, "--tail": True},
    "api-versions": {},
}  # fmt: skip
POSITIONALS = {"apply": 0, "get": 1, "delete": 0, "logs": 1, "api-versions": 0}


def documents(stdin: bytes) -> list[dict]:
    """The objects kubectl was given, a list's items one by one (as kubectl decodes them)."""
    docs = yamlio.load_all(stdin, "kubectl's input")  # a deploy's YAML or a List
    return [i for d in docs if d for i in d.get("items", [d])]


class Refused(Exception):
    """kubectl's own error, before it calls the server."""


def kubectl_refuses(verb: str, rest: tuple[str, ...], stdin: bytes | None) -> str:
    """kubectl's error for this call before it asks the server, or "" when it has none."""
    if verb not in FLAGS:
        return ""  # not a verb kubectl checks here: the caller fails the test
    try:
        given, positional = _parse(FLAGS[verb], rest)
        allowed = 0 if "-f" in given else POSITIONALS[verb]
        _check(given.get("-f") in (None, "-"), f'the path "{given.get("-f")}" does not exist')
        _check(len(positional) <= allowed, f"Unexpected args: {positional[allowed:]}")
        output = given.get("-o", given.get("--output"))
        _check(
            output in (None, "json"),
            f'unable to match a printer suitable for the output format "{output}"',
        )
        validate = given.get("--validate", "false")
        _check(validate in VALIDATE, f'invalid - validate option "{validate}"')
        for doc in yamlio.load_all(stdin or b"", "kubectl's input") if "-f" in given else ():
            _check(not doc or "kind" in doc, "unable to decode \"STDIN\": Object 'Kind' is missing")
        for obj in documents(stdin or b"") if "-f" in given else ():  # a List's items too
            _check(
                bool(obj.get("apiVersion")),
                f'unable to recognize "STDIN": no matches for kind "{obj.get("kind")}" '
                'in version ""',
            )
    except Refused as refused:
        return f"error: {refused}"
    return ""


VALIDATE = ("true", "false", "strict", "warn", "ignore")


def _check(holds: bool, error: str) -> None:
    if not holds:
        raise Refused(error)


def _parse(flags: dict[str, bool], rest: tuple[str, ...]) -> tuple[dict[str, str], list[str]]:
    """The flags given (name -> value) and the other arguments, as kubectl's parser reads them."""
    given: dict[str, str] = {}
    positional: list[str] = []
    args = iter(rest)
    for arg in args:
        if not arg.startswith("-") or arg == "-":
            positional.append(arg)
            continue
        name, eq, value = arg.partition("=")
        short = "shorthand " if not name.startswith("--") else ""
        _check(name in flags, f"unknown {short}flag: {arg}")
        if flags[name] and not eq:
            value = next(args, "")
        _check(flags[name] or value in ("", "true", "false"), f'invalid argument "{value}"')
        given[name] = value if flags[name] else (value or "true")
    return given, positional


class ApiServer:
    def __init__(
        self,
        objects=(),
        refuse_next: tuple[int, str, str] | None = None,
        rollout_reads: int = 0,
    ):
        self.objects: dict[ObjectRef, dict] = {}
        self.rollout_reads = rollout_reads
        self.lagging: dict[ObjectRef, int] = {}  # reads left until its controller observes it
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
        if refused := kubectl_refuses(verb, rest, stdin):
            return 1, "", refused
        if verb == "api-versions":
            return 0, SERVED, ""
        if verb in ("get", "logs"):
            return self.get(rest, stdin)
        if verb == "apply":
            return self.apply(stdin)
        if verb == "delete" and rest[:2] == ("-f", "-"):
            return self.delete(
                documents(stdin), "--ignore-not-found" in rest, "--wait=false" in rest
            )
        raise AssertionError(f"the fake API server does not answer {argv[5:]}")

    def get(self, rest: tuple[str, ...], stdin: bytes) -> tuple[int, str, str]:
        """What `kubectl get` (or `logs`) prints: the objects kubectl names, a namespace's
        workloads or pods; no events are kept and the pods log nothing."""
        if rest[0] in ("events", "-n"):
            return 0, "", ""
        if "-o" not in rest and "--output=json" not in rest:
            return 0, "NAME   AGE\n", ""  # kubectl's table: nothing a caller can parse
        if rest[:2] == ("-f", "-"):
            return self.named(rest, stdin)
        if rest[0] in CLUSTER_SCOPED:  # no namespace: `get pv -l <label> -o json`
            kind = CLUSTER_SCOPED[rest[0]]
            selector = rest[rest.index("-l") + 1]
            keys = sorted(k for k in self.objects if k.kind == kind)
            found = [self.read(k) for k in keys if _selects(selector, self.objects[k])]
            return 0, _listed(found), ""
        namespace = rest[rest.index("-n") + 1]
        if rest[0] == "deployments,statefulsets,controllerrevisions":
            workloads = self.listed(WORKLOADS, namespace)
            for key in map(ObjectRef.of, workloads):  # each read brings the controllers on
                if self.lagging.get(key):
                    self.lagging[key] -= 1
            return 0, _listed(workloads), ""
        if rest[0] == "pods":
            selector = dict(kv.split("=", 1) for kv in rest[rest.index("-l") + 1].split(","))
            return 0, _listed(self.pods(namespace, selector)), ""
        raise AssertionError(f"the fake API server does not answer get {rest}")

    def named(self, rest: tuple[str, ...], stdin: bytes) -> tuple[int, str, str]:
        """`get -f -`: the objects of the documents on stdin, NotFound for an absent one."""
        keys = [ObjectRef.of(d) for d in documents(stdin)]
        absent = [k for k in keys if k not in self.objects]
        if absent and "--ignore-not-found" not in rest:
            return 1, "", _not_found(absent[0])
        return 0, _listed([self.read(k) for k in keys if k in self.objects]), ""

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
            if self.rollout_reads and key.kind in WORKLOADS and not same:
                self.lag(key, self.rollout_reads)
            out.append(self.read(key))
        return 0, _listed(out), ""

    def delete(
        self, docs: list[dict], ignore_not_found: bool, no_wait: bool
    ) -> tuple[int, str, str]:
        """Each object named, in order; an absent one is an error unless ignored. One with a
        finalizer stays, marked for deletion (no controller here removes its finalizer): a
        delete that waits for it times out."""
        held = []
        for key in (ObjectRef.of(d) for d in docs):
            if key not in self.objects:
                if ignore_not_found:
                    continue
                return 1, "", _not_found(key)
            meta = self.objects[key]["metadata"]
            if meta.get("finalizers"):
                meta.setdefault("deletionTimestamp", "2026-01-01T00:00:00Z")
                held.append(key)
            else:
                del self.objects[key]
        if held and not no_wait:
            return 1, "", f"error: timed out waiting for the condition on {_plural(held[0])}"
        return 0, "", ""

    def edit(self, key: ObjectRef, change) -> None:
        """Someone else's change to a stored object: `change(obj)`, a new resourceVersion and
        generation, as the server gives it."""
        self.version += 1
        change(self.objects[key])
        meta = self.objects[key]["metadata"]
        meta["resourceVersion"] = str(self.version)
        meta["generation"] += 1

    def lag(self, key: ObjectRef, reads: int) -> None:
        """The workload's controller observes it only after `reads` reads of its namespace's
        workloads: until then its status is one generation behind, so it is not ready."""
        self.lagging[key] = reads

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
            if self.lagging.get(key):
                obj["status"]["observedGeneration"] = obj["metadata"]["generation"] - 1
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


def _plural(key: ObjectRef) -> str:
    return f"{key.kind.lower()}s/{key.name}"


def _not_found(key: ObjectRef) -> str:
    kind, _, name = _plural(key).partition("/")
    return f'Error from server (NotFound): {kind} "{name}" not found'


def _selects(selector: str, obj: dict) -> bool:
    """kubectl's `-l`: `key=value` and `key` (exists) terms, all of them."""
    labels = obj["metadata"].get("labels") or {}
    for term in selector.split(","):
        key, equals, value = term.partition("=")
        if key not in labels or (equals and labels[key] != value):
            return False
    return True


def _never_ready(workload: dict) -> bool:
    labels = workload["spec"]["template"].get("metadata", {}).get("labels") or {}
    return labels.get(NEVER_READY_LABEL) == "true"
