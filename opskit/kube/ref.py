"""One spelling of an object's identity in a cluster: `ObjectRef(kind, namespace, name)`.

Every comparison of "the same object" (the deploy record, the state before a deploy, live
against rendered, workloads) goes through it; text is made from it only where it is shown
or stored, in one of three renderings:

- `str(ref)`      `Kind/namespace/name`: unique in a cluster; the deploy record's key
- `ref.kind_name` `Kind/name`: what messages and reports name (a plan targets one namespace)
- `ref.resource`  `kind/name`: kubectl's TYPE/NAME argument (`rollout status deployment/api`)
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, order=True)
class ObjectRef:
    kind: str
    namespace: str  # "" for a cluster-scoped object, or one whose namespace is not set
    name: str

    @classmethod
    def of(cls, obj: dict) -> ObjectRef:
        """The identity of a Kubernetes object (a rendered document or a server's answer)."""
        meta = obj.get("metadata") or {}
        return cls(
            str(obj.get("kind") or ""),
            str(meta.get("namespace") or ""),
            str(meta.get("name") or ""),
        )

    @classmethod
    def parse(cls, text: str) -> ObjectRef:
        """The inverse of `str(ref)`; ValueError for anything else."""
        kind, namespace, name = text.split("/")
        return cls(kind, namespace, name)

    def __str__(self) -> str:
        return f"{self.kind}/{self.namespace}/{self.name}"

    @property
    def kind_name(self) -> str:
        return f"{self.kind}/{self.name}"

    @property
    def resource(self) -> str:
        return f"{self.kind.lower()}/{self.name}"
