"""Where things live: the repository root and the suite's git-ignored working folders."""

from __future__ import annotations

import os
from functools import cache
from pathlib import Path

CONFIG_NAME = "opskit.yaml"


@cache
def root() -> Path:
    """The project root: $OPSKIT_ROOT, else the nearest folder up from cwd with opskit.yaml."""
    if env := os.environ.get("OPSKIT_ROOT"):
        return Path(env).resolve()
    here = Path.cwd().resolve()
    for folder in (here, *here.parents):
        if (folder / CONFIG_NAME).is_file():
            return folder
    return Path(__file__).resolve().parents[1]


def tools_bin() -> Path:
    """Folder of the Go-built tools (`invoke tools.install`)."""
    return root() / ".tools" / "bin"


def state_dir() -> Path:
    """Folder of local cluster state, kubeconfigs and locks ($OPSKIT_STATE_DIR overrides, so
    a scratch copy of the repository can drive a cluster that another checkout started)."""
    if env := os.environ.get("OPSKIT_STATE_DIR"):
        return Path(env).resolve()
    return root() / ".opskit"
