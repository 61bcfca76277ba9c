"""What the last successful deploy of an overlay applied to a cluster, so a redeploy sends
only what changed.

Per object: a fingerprint of what was sent (a SHA-256 of the rendered object, or of the
encrypted file a Secret is decrypted from, so an unchanged Secret is not even decrypted)
and the uid and resourceVersion the server answered. An object whose fingerprint is the
same and whose live uid and resourceVersion are still those has not changed since, by
anyone (any write bumps the resourceVersion): sending it again would be a no-op. No values
are kept, only digests. The record lives in the state folder (one file per context and
overlay) and is dropped whenever a deploy fails, so the next one sends everything.
"""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path

from opskit.core import paths
from opskit.kube.ref import ObjectRef


def fingerprint(content: dict | bytes) -> str:
    data = content if isinstance(content, bytes) else json.dumps(content, sort_keys=True).encode()
    return hashlib.sha256(data).hexdigest()


def _file(context: str, overlay: str) -> Path:
    safe = re.sub(r"[^A-Za-z0-9_.-]", "_", context)
    return paths.state_dir() / "applied" / safe / f"{overlay}.json"


def load(context: str, overlay: str) -> dict[ObjectRef, dict]:
    """ref -> {"fingerprint", "uid", "resourceVersion"}; {} when there is no usable record."""
    from opskit.core import yamlio

    try:
        return {
            ObjectRef.parse(k): v
            for k, v in yamlio.read_json_cache(_file(context, overlay)).items()
        }
    except ValueError:  # not a record this version wrote: send everything
        return {}


def same(record: dict[ObjectRef, dict], ref: ObjectRef, print_: str, live: dict | None) -> bool:
    """The object was applied with this fingerprint and nobody wrote it since."""
    entry = record.get(ref)
    if not entry or live is None or entry.get("fingerprint") != print_:
        return False
    meta = live.get("metadata") or {}
    return (entry.get("uid"), entry.get("resourceVersion")) == (
        meta.get("uid"),
        meta.get("resourceVersion"),
    )


def save(context: str, overlay: str, prints: dict[ObjectRef, str], live: list[dict]) -> None:
    """Record the fingerprints of what the cluster now holds (`live`: the objects as the
    server answered, after the apply)."""
    by_key = {ObjectRef.of(obj): obj.get("metadata") or {} for obj in live}
    record = {
        str(k): {
            "fingerprint": p,
            "uid": by_key[k].get("uid"),
            "resourceVersion": by_key[k].get("resourceVersion"),
        }
        for k, p in prints.items()
        if k in by_key
    }
    file = _file(context, overlay)
    paths.ensure_dir(file.parent)
    paths.write_atomic(file, json.dumps(record, indent=1, sort_keys=True) + "\n")


def forget(context: str, overlay: str) -> None:
    _file(context, overlay).unlink(missing_ok=True)


def forget_cluster(context: str) -> None:
    """Every record of a cluster (`cluster.down`: its objects are gone with it)."""
    import shutil

    folder = _file(context, "-").parent
    shutil.rmtree(folder, ignore_errors=True)
    paths.prune_empty(folder.parent)
