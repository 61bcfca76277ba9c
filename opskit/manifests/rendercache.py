"""Rendered overlays cached by what they are made of, so a no-op deploy skips kustomize.

Kept as the parsed objects in JSON (a tenth of a millisecond to read, where parsing the
YAML again took ~10 ms per overlay). The key covers every file under k8s/ (overlays
reference nothing outside it) and the identity of the kubectl binary that renders. The
suite's Secrets are decrypted separately, in memory; a render that holds a Secret anyway
(a secretGenerator, which deploy refuses) is never written, so no Secret value reaches the
disk through the cache.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from collections.abc import Callable
from pathlib import Path

from opskit.core import paths, tools, yamlio

KEEP = 8
CHECKSUM = "# opskit-render sha256:"  # first line: a cut-short file (full disk) is not used


def key(manifests_dir: Path) -> str:
    digest = hashlib.sha256()
    kubectl = tools.which("kubectl") or "kubectl"
    stat = Path(shutil.which(kubectl) or kubectl).resolve().stat()
    digest.update(f"{kubectl}:{stat.st_mtime_ns}:{stat.st_size}".encode())
    for file in sorted(p for p in manifests_dir.rglob("*") if p.is_file()):
        digest.update(str(file.relative_to(manifests_dir)).encode() + b"\0")
        digest.update(file.read_bytes())
    return digest.hexdigest()[:32]


def rendered(
    manifests_dir: Path,
    overlay_path: Path,
    render: Callable[[], str],
    components: tuple[Path, ...] = (),
) -> list[dict]:
    """The objects of `overlay_path`'s render (with the `components` added): cached, or
    `render()` parsed and stored."""
    folder = paths.state_dir() / "cache" / "render"
    what = "\0".join(str(p) for p in (overlay_path, *components))
    name = hashlib.sha256(what.encode()).hexdigest()[:12]
    file = folder / f"{name}-{key(manifests_dir)}.json"
    cached = yamlio.read_cache(file, _verified)
    if cached is not None:
        return cached
    objects = yamlio.load_all(render(), "kustomize output")
    if not holds_secret(objects):
        text = json.dumps(objects, separators=(",", ":"))
        paths.write_atomic(file, f"{CHECKSUM}{_digest(text)}\n{text}")
        _prune(folder)
    return objects


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def _verified(content: str) -> list[dict]:
    header, _, text = content.partition("\n")
    if header != f"{CHECKSUM}{_digest(text)}":
        raise ValueError("checksum mismatch")
    objects = json.loads(text)
    if not isinstance(objects, list):
        raise ValueError("not a list of objects")
    return objects


def holds_secret(objects: list) -> bool:
    """Whether any object of a render is a Secret (its values would be in the file)."""
    return any(isinstance(o, dict) and o.get("kind") == "Secret" for o in objects)


def _prune(folder: Path) -> None:
    """Keep the newest few renders."""
    files = sorted(folder.glob("*"), key=lambda p: p.stat().st_mtime, reverse=True)
    for old in files[KEEP:]:
        old.unlink(missing_ok=True)
