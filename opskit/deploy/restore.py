"""Undo a deploy: every object it changed back as it was, every object it created removed.

Before the apply, the live state of every object in the plan is read (one `kubectl get -f -`
fed from memory). After a failed apply (the server rejected an object half-way) or a failed
rollout, those objects are re-applied server-side and the ones that did not exist are
deleted. ConfigMaps, Secrets and Services return together with the workloads, so the old
pods read the old config: `rollout undo` alone brings back old pods reading the new config.
Re-applying a Deployment's previous template is what `rollout undo` does: the controller
scales the old ReplicaSet back up.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import json
from dataclasses import dataclass

from opskit.core import shell
from opskit.core.progress import Notify
from opskit.kube import reads
from opskit.kube.kubectl import Kube, server_side_apply
from opskit.kube.ref import ObjectRef

# set by the API server, not part of what was applied
SERVER_METADATA = (
    "uid",
    "resourceVersion",
    "generation",
    "creationTimestamp",
    "managedFields",
    "selfLink",
    "ownerReferences",
    "finalizers",
    "deletionTimestamp",
    "deletionGracePeriodSeconds",
)
SERVER_ANNOTATIONS = (
    "kubectl.kubernetes.io/last-applied-configuration",
    "deployment.kubernetes.io/revision",
)
# never deleted by put_back, even when this deploy created them: they hold data or everything
KEPT = {"Namespace", "PersistentVolumeClaim"}


@dataclass(frozen=True)
class Before:
    """The objects of a plan as they were: `previous` existed (as the server had them),
    `created` did not (the deploy creates them)."""

    previous: tuple[dict, ...]
    created: tuple[dict, ...]
    live: tuple[dict, ...] = ()  # `previous` as the server has them (uid, resourceVersion)

    @property
    def empty(self) -> bool:
        return not (self.previous or self.created)


def capture(kube: Kube, wanted: list[dict]) -> Before:
    """Read the live state of every object in `wanted` (only their kind, name and namespace
    are sent; Secrets come back in memory only, their values registered for redaction)."""
    live = reads.live_objects(kube, [stub(doc) for doc in wanted])
    found = {ObjectRef.of(obj) for obj in live}
    created = tuple(stub(doc) for doc in wanted if ObjectRef.of(doc) not in found)
    for obj in live:
        if obj.get("kind") == "Secret":
            _register(obj)
    return Before(tuple(_as_applied(obj) for obj in live), created, tuple(live))


def outcomes(before: Before, applied: str) -> dict[str, str]:
    """`Kind/name` -> created, changed or unchanged: each object of the apply's output
    (`-o json`) against the object as it was before."""
    was = {ObjectRef.of(obj): obj for obj in before.previous}
    found = {}
    for obj in items(applied):
        if not obj.get("kind"):
            continue  # an empty answer
        old = was.get(ObjectRef.of(obj))
        found[ObjectRef.of(obj).kind_name] = (
            "created" if old is None else "unchanged" if _as_applied(obj) == old else "changed"
        )
    return found


def items(text: str) -> list[dict]:
    if not text.strip():
        return []
    data = json.loads(text)
    return list(data.get("items", [])) if data.get("kind") == "List" else [data]


def stub(obj: dict) -> dict:
    meta = obj["metadata"]
    stub_meta = {
        "name": meta["name"],
        **({"namespace": meta["namespace"]} if "namespace" in meta else {}),
    }
    return {"apiVersion": obj["apiVersion"], "kind": obj["kind"], "metadata": stub_meta}


def _as_applied(obj: dict) -> dict:
    """A live object as something to apply again: no status, no server-set metadata."""
    clean = {k: v for k, v in obj.items() if k != "status"}
    meta = {k: v for k, v in obj["metadata"].items() if k not in SERVER_METADATA}
    notes = {
        k: v for k, v in (meta.get("annotations") or {}).items() if k not in SERVER_ANNOTATIONS
    }
    meta.pop("annotations", None)
    if notes:
        meta["annotations"] = notes
    clean["metadata"] = meta
    return clean


def _register(secret: dict) -> None:
    for value in (secret.get("data") or {}).values():
        shell.secret(str(value))
        with contextlib.suppress(binascii.Error, UnicodeDecodeError):
            shell.secret(base64.b64decode(str(value), validate=True).decode())


def put_back(kube: Kube, before: Before, notify: Notify, dry_run: bool = False) -> list[ObjectRef]:
    """Re-apply what existed, delete what this deploy created (except KEPT kinds); returns
    every object put back or removed."""
    done: list[ObjectRef] = []
    if before.previous:
        payload = json.dumps({"apiVersion": "v1", "kind": "List", "items": list(before.previous)})
        kube.run(
            *server_side_apply("--validate=false"),
            stdin=payload.encode(),
            mutates=True,
            dry_run=dry_run,
            timeout=180,
            what="restore the previous objects",
        )
        done += [ObjectRef.of(obj) for obj in before.previous]
        notify(f"restored {len(before.previous)} object(s) as they were before this deploy")
    removable = [obj for obj in before.created if obj["kind"] not in KEPT]
    if removable:
        payload = json.dumps({"apiVersion": "v1", "kind": "List", "items": removable})
        kube.run(
            "delete",
            "-f",
            "-",
            "--ignore-not-found",
            "--wait=false",
            stdin=payload.encode(),
            mutates=True,
            dry_run=dry_run,
            timeout=120,
            what="delete the objects this deploy created",
        )
        done += [ObjectRef.of(obj) for obj in removable]
        notify(
            f"deleted {len(removable)} object(s) this deploy had created: "
            + ", ".join(ObjectRef.of(obj).kind_name for obj in removable)
        )
    return done
