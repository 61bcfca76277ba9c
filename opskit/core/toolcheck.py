"""Is a tool there at a version the suite accepts? One short `--version` run a tool,
remembered by the executable's identity (opskit.core.tools says where tools are)."""

from __future__ import annotations

import contextlib
import json
import re
from dataclasses import dataclass
from pathlib import Path

from opskit.core import shell, yamlio
from opskit.core.errors import OpsError, ToolMissing
from opskit.core.paths import state_dir, write_atomic
from opskit.core.tools import TOOLS, install_hint, which


@dataclass(frozen=True)
class Probe:
    name: str
    path: str | None
    version: str | None
    ok: bool


def probe(name: str) -> Probe:
    """Find a tool and read its version (one short process)."""
    tool = TOOLS[name]
    path = which(name)
    if path is None:
        return Probe(name, None, None, False)
    version = _cached_version(path)
    if version is None:
        result = shell.run([path, *tool.version_args], check=False, timeout=20)
        match = re.search(tool.version_regex, result.stdout + result.stderr)
        version = match.group(1) if match else None
        if version:
            _remember_version(path, version)
    return Probe(name, path, version, version is not None and _at_least(version, tool.minimum))


def _cache_file() -> Path:
    return state_dir() / "tool-versions.json"


def _fingerprint(path: str) -> str:
    """Identity of an executable's bytes: a rebuilt or upgraded tool is probed again."""
    info = Path(path).resolve().stat()
    return f"{info.st_mtime_ns}:{info.st_size}"


def _read_cache() -> dict:
    return yamlio.read_json_cache(_cache_file())


def _cached_version(path: str) -> str | None:
    entry = _read_cache().get(path)
    if not isinstance(entry, dict):
        return None
    return entry.get("version") if entry.get("fingerprint") == _fingerprint(path) else None


def _remember_version(path: str, version: str) -> None:
    """Version probes cost a process each; cache them so preflight stays fast."""
    cache = _read_cache()
    cache[path] = {"fingerprint": _fingerprint(path), "version": version}
    with contextlib.suppress(OpsError):  # a cache that cannot be written only costs speed
        write_atomic(_cache_file(), json.dumps(cache, indent=1, sort_keys=True))


def _at_least(version: str, minimum: str) -> bool:
    def parts(text: str) -> tuple[int, ...]:
        return tuple(int(p) for p in re.findall(r"\d+", text)[:3])

    return parts(version) >= parts(minimum)


def require(*names: str) -> None:
    """Preflight: every named tool is installed at a suitable version, else ToolMissing."""
    for name in names:
        if which(name) is None:
            raise ToolMissing(f"`{name}` not found", install_hint(name))
    for name in names:
        found = probe(name)
        if not found.ok:
            raise ToolMissing(
                f"`{name}` {found.version or 'unknown version'} is older than "
                f"{TOOLS[name].minimum}",
                install_hint(name),
            )
