"""Live drift: what a server-side apply of the current commit would change in the cluster.

The rendered objects (and the decrypted Secrets, from memory) go to `kubectl apply
--server-side --dry-run=server`, which merges them as a real apply would and writes nothing;
the merged objects are then compared field by field with the live ones. Secrets are
compared by key only: a value never reaches a line.
"""

from __future__ import annotations

from dataclasses import dataclass

from opskit.kube.kubectl import UNREACHABLE_HINT, Kube, server_side_apply
from opskit.kube.ref import ObjectRef
from opskit.manifests import kustomize

VOLATILE = ("managedFields", "resourceVersion", "generation", "uid", "creationTimestamp")
SHOWN = 60  # characters of a value shown in a drift line


@dataclass(frozen=True)
class Drift:
    ref: str  # Kind/name
    fields: tuple[str, ...]  # `spec.replicas: live 5, commit 1`, `data.KEY: differs`, ...


def _items(text: str) -> list[dict]:
    import json

    data = json.loads(text or "{}")
    return data.get("items", []) if data.get("kind") == "List" else [data] if data else []


def _comparable(obj: dict) -> dict:
    meta = {k: v for k, v in (obj.get("metadata") or {}).items() if k not in VOLATILE}
    return {**{k: v for k, v in obj.items() if k != "status"}, "metadata": meta}


def _short(value) -> str:
    text = repr(value) if not isinstance(value, str) else value
    return text if len(text) <= SHOWN else text[: SHOWN - 3] + "..."


def field_changes(live, wanted, path: str = "") -> list[str]:
    """`path: live X, commit Y` for every leaf that differs (lists by index)."""
    if isinstance(live, dict) and isinstance(wanted, dict):
        out = []
        for key in sorted(live.keys() | wanted.keys(), key=str):
            sub = f"{path}.{key}" if path else str(key)
            out += field_changes(live.get(key), wanted.get(key), sub)
        return out
    if isinstance(live, list) and isinstance(wanted, list) and len(live) == len(wanted):
        return [
            line
            for i, pair in enumerate(zip(live, wanted, strict=True))
            for line in field_changes(*pair, f"{path}[{i}]")
        ]
    if live == wanted:
        return []
    return [f"{path}: live {_short(live)}, commit {_short(wanted)}"]


def secret_changes(live: dict, wanted: dict) -> list[str]:
    """`data.KEY: differs|missing in the cluster|only in the cluster`: keys, never values."""
    have, want = live.get("data") or {}, wanted.get("data") or {}
    lines = []
    for key in sorted(have.keys() | want.keys()):
        if key not in have:
            lines.append(f"data.{key}: missing in the cluster")
        elif key not in want:
            lines.append(f"data.{key}: only in the cluster")
        elif have[key] != want[key]:
            lines.append(f"data.{key}: differs")
    live_rest, wanted_rest = (
        {k: v for k, v in o.items() if k not in ("data", "stringData")} for o in (live, wanted)
    )
    return lines + field_changes(live_rest, wanted_rest)


def compare(live: list[dict], merged: list[dict]) -> list[Drift]:
    """Drift of every merged (would-be) object against its live one."""
    found = {ObjectRef.of(o): _comparable(o) for o in live}
    out = []
    for obj in merged:
        ref, wanted = ObjectRef.of(obj), _comparable(obj)
        if ref not in found:
            out.append(Drift(ref.kind_name, ("missing in the cluster",)))
            continue
        diff = secret_changes if obj.get("kind") == "Secret" else field_changes
        if lines := diff(found[ref], wanted):
            out.append(Drift(ref.kind_name, tuple(lines)))
    return out


def detect(kube: Kube, objects: list[dict], private: list[bytes]) -> list[Drift]:
    """Drift of the rendered `objects` and the decrypted Secrets in `private`."""
    payload = "---\n".join([kustomize.dump(objects), *(d.decode() for d in private)])
    merged = kube.run(
        *server_side_apply("--dry-run=server", "--validate=false", "--output=json"),
        stdin=payload.encode(),
        timeout=120,
        hint=UNREACHABLE_HINT,
    )
    names = [
        {
            "apiVersion": o["apiVersion"],
            "kind": o["kind"],
            "metadata": {k: v for k, v in o["metadata"].items() if k in ("name", "namespace")},
        }
        for o in _items(merged.stdout)
    ]
    live = kube.run(
        "get",
        "--ignore-not-found",
        "-o",
        "json",
        "-f",
        "-",
        stdin=kustomize.dump(names),
        timeout=60,
        hint=UNREACHABLE_HINT,
    )
    return compare(_items(live.stdout), _items(merged.stdout))
