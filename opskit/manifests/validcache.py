"""Rendered objects that passed validation once are not validated again (deploy's fast path).

The key is a SHA-256 of everything the verdict depends on: the objects (canonical JSON, the
image tag included), the whole resolved configuration (the policies read the overlay's
settings), the Kubernetes release whose schemas apply, the schema package's location and
the size and mtime of every opskit module (the validator's code). A marker file per key
holds no content. Only a pass is kept: problems are found again every time.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
from pathlib import Path
from typing import TYPE_CHECKING

from opskit.core import paths

if TYPE_CHECKING:
    from opskit.core.config import Config, Overlay

KEEP = 64
_CODE = Path(__file__).resolve().parents[1]  # all of opskit: the verdict depends on its code


def key(cfg: Config, overlay: Overlay, objects: list[dict]) -> str:
    digest = hashlib.sha256()
    digest.update(json.dumps(objects, sort_keys=True).encode())
    digest.update(repr(cfg).encode())
    digest.update(repr(overlay).encode())
    spec = importlib.util.find_spec("kubernetes_validate")
    digest.update(str(spec.origin if spec else None).encode())
    for module in sorted(_CODE.rglob("*.py")):
        stat = module.stat()
        digest.update(f"{module.relative_to(_CODE)}:{stat.st_size}:{stat.st_mtime_ns}".encode())
    return digest.hexdigest()[:32]


def _folder() -> Path:
    return paths.state_dir() / "cache" / "valid"


def known(digest: str) -> bool:
    return (_folder() / digest).is_file()


def remember(digest: str) -> None:
    folder = _folder()
    paths.ensure_dir(folder)
    (folder / digest).touch()
    markers = sorted(folder.iterdir(), key=lambda p: p.stat().st_mtime, reverse=True)
    for old in markers[KEEP:]:
        old.unlink(missing_ok=True)
