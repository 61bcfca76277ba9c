"""The one live comparison: what a server-side apply of the current commit would change.

The rendered objects (and the decrypted Secrets, from memory) go to `kubectl apply
--server-side --dry-run=server`, which merges them as a real apply would and writes nothing;
the merged objects are then compared with the live ones. Two views of one comparison:
field lines (`invoke status`) and a unified diff per object (`invoke manifests.diff
--live`). Secrets are compared by key: a field line names the key, and the unified diff
shows every value as *** (`*** (before)` / `*** (after)` where it changed, as `kubectl
diff` masks them), so a value never reaches a line.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from opskit.kube.kubectl import UNREACHABLE_HINT, Kube, server_side_apply
from opskit.kube.ref import ObjectRef
from opskit.manifests import kustomize

if TYPE_CHECKING:
    from pathlib import Path

    from opskit.core.config import Config, Overlay

VOLATILE = ("managedFields", "resourceVersion", "generation", "uid", "creationTimestamp")
SHOWN = 60  # characters of a value shown in a drift line
MASK = "***"


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


@dataclass(frozen=True)
class Comparison:
    """The overlay against the cluster: drift per object, the same as unified diffs
    (Secrets masked), and what was not compared (`Kind/name: reason`)."""

    drift: tuple[Drift, ...]
    text: str
    skipped: tuple[str, ...]

    @property
    def changed(self) -> bool:
        return bool(self.drift)


def rendered(
    cfg: Config, overlay: Overlay, tag: str | None = None, components: tuple[Path, ...] = ()
) -> tuple[str, list[dict]]:
    """The image tag and the objects a deploy of the working tree would apply: the app
    image pinned to `tag`, by default the current commit's (`-dirty-` for a dirty tree);
    `components`: those the target cluster adds (clusters.connect.Connection.components)."""
    from opskit.core import gitinfo

    if tag is None:
        tag = gitinfo.image_tag(
            cfg.root, cfg.app.tag_length, allow_dirty=True, protected=False, what="compare"
        ).value
    return tag, kustomize.render_overlay(cfg, overlay, tag=tag, cached=True, components=components)


def comparison(
    cfg: Config, overlay: Overlay, kube: Kube, objects: list[dict] | None = None
) -> Comparison:
    """Compare the overlay's rendered `objects` (by default `rendered`) and its Secrets with
    the cluster. Objects whose API the cluster does not serve and Secrets the user's key
    cannot open are listed in `skipped`, not compared."""
    from opskit.kube.reads import api_versions

    if objects is None:
        objects = rendered(cfg, overlay)[1]
    served, unserved = kustomize.by_api(objects, api_versions(kube))
    skipped = [f"{ObjectRef.of(o).kind_name}: API {o['apiVersion']} not served" for o in unserved]
    deployed = kube.run("get", "namespace", overlay.namespace, check=False, timeout=30)
    if deployed.returncode != 0:
        missing = Drift(f"Namespace/{overlay.namespace}", ("missing in the cluster",))
        return Comparison((missing,), f"{missing.ref}: missing in the cluster\n", tuple(skipped))
    live, merged = read(kube, served, _private(cfg, overlay, skipped))
    return Comparison(tuple(compare(live, merged)), unified(live, merged), tuple(skipped))


def _private(cfg: Config, overlay: Overlay, skipped: list[str]) -> list[bytes]:
    """The decrypted Secrets; none (and a `skipped` line) when the user's key cannot open them."""
    from opskit.core.errors import OpsError
    from opskit.secrets import sops

    if not sops.secret_files(overlay):
        return []
    try:
        return sops.decrypted_secrets(cfg, overlay)
    except OpsError as cannot:
        skipped.append(f"Secrets: {str(cannot).split(';')[0]}")
        return []


def unified(live: list[dict], merged: list[dict]) -> str:
    """A unified diff per object that would change (live -> commit), Secrets masked."""
    import difflib

    found = {ObjectRef.of(o): _comparable(o) for o in live}
    out: list[str] = []
    for obj in merged:
        ref, wanted = ObjectRef.of(obj), _comparable(obj)
        before = found.get(ref)
        if obj.get("kind") == "Secret":
            before, wanted = _masked(before, wanted)
        if before == wanted:
            continue
        name = f"{ref.kind_name}" + (f" -n {ref.namespace}" if ref.namespace else "")
        old, new = _lines(before), _lines(wanted)
        out += difflib.unified_diff(old, new, f"live/{name}", f"commit/{name}")
    return "".join(out)


def _lines(obj: dict | None) -> list[str]:
    """YAML with sorted keys (live and merged objects order theirs differently)."""
    import yaml

    if obj is None:
        return []
    dumper = getattr(yaml, "CSafeDumper", yaml.SafeDumper)
    text = yaml.dump(obj, Dumper=dumper, sort_keys=True, default_flow_style=False)
    return text.splitlines(keepends=True)


def _masked(live: dict | None, wanted: dict) -> tuple[dict | None, dict]:
    """Both Secrets with every data value replaced by ***, `*** (before)` and `*** (after)`
    for a key both hold with different values (kubectl diff's masking)."""
    have, want = (live or {}).get("data") or {}, wanted.get("data") or {}
    masks: tuple[dict[str, str], dict[str, str]] = ({}, {})
    for key in have.keys() | want.keys():
        changed = key in have and key in want and have[key] != want[key]
        if key in have:
            masks[0][key] = f"{MASK} (before)" if changed else MASK
        if key in want:
            masks[1][key] = f"{MASK} (after)" if changed else MASK

    def shown(obj: dict, mask: dict[str, str]) -> dict:
        rest = {k: v for k, v in obj.items() if k not in ("data", "stringData")}
        return {**rest, "data": dict(sorted(mask.items()))} if mask else rest

    return (shown(live, masks[0]) if live is not None else None), shown(wanted, masks[1])


def read(kube: Kube, objects: list[dict], private: list[bytes]) -> tuple[list[dict], list[dict]]:
    """The live objects and what a server-side apply of `objects` and the decrypted
    Secrets in `private` would make of them (a server dry run: nothing is written)."""
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
    return _items(live.stdout), _items(merged.stdout)
