"""`invoke doctor`: which tools are installed, at which version, and what is missing."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING

from opskit.core import paths, toolcheck, tools
from opskit.core.errors import OpsError

if TYPE_CHECKING:
    from opskit.core.config import Config


@dataclass(frozen=True)
class Row:
    probe: toolcheck.Probe
    required: bool
    hint: str


def check(required: tuple[str, ...]) -> list[Row]:
    """Probe every registered tool in parallel (each probe is one short process)."""
    names = list(tools.TOOLS)
    with ThreadPoolExecutor(max_workers=8) as pool:
        probes = list(pool.map(toolcheck.probe, names))
    return [Row(p, p.name in required, "" if p.ok else tools.TOOLS[p.name].hint) for p in probes]


def table(rows: list[Row]) -> str:
    header = ("tool", "found", "version", "ok", "hint")
    lines = [header]
    for row in rows:
        p = row.probe
        mark = "yes" if p.ok else ("MISSING" if row.required else "no")
        name = f"{p.name}{'*' if row.required else ''}"
        lines.append((name, p.path or "-", p.version or "-", mark, row.hint))
    widths = [max(len(line[i]) for line in lines) for i in range(len(header) - 1)]
    out = [
        "  ".join(cell.ljust(w) for cell, w in zip(line, widths, strict=False)) + "  " + line[-1]
        for line in lines
    ]
    return "\n".join(text.rstrip() for text in out)


def as_json(rows: list[Row], provider: str) -> dict:
    """The `doctor --json` shape: stable keys, documented in docs/tasks.md."""
    return {
        "provider": provider,
        "ok": not failures(rows),
        "missing": failures(rows),
        "tools": [
            {
                "name": row.probe.name,
                "path": row.probe.path,
                "version": row.probe.version,
                "ok": row.probe.ok,
                "required": row.required,
                "hint": row.hint,
            }
            for row in rows
        ],
    }


def failures(rows: list[Row]) -> list[str]:
    return [row.probe.name for row in rows if row.required and not row.probe.ok]


# -- agreement with opskit.yaml -----------------------------------------------------------


def stale_tools(cfg: Config) -> list[str]:
    """Built tools whose inputs (pin, flags, go.mod/go.sum) changed since they were built:
    `invoke tools.install` rebuilds exactly these. Reads files only, starts no process."""
    from opskit.toolchain import build

    stamp = build.read_stamp()
    pins = cfg.tool_pins()
    found = []
    for tool in build.GO_TOOLS:
        entry = stamp.get(tool.name)
        if entry is None:  # never built here: the table shows where it comes from
            continue
        try:
            version = build.pinned_version(tool, pins, cfg.root / "tools")
        except OpsError:
            version = pins.get(tool.pin, "?")
            found.append(f"{tool.name} {entry.get('version')} (pinned {version})")
            continue
        if entry.get("key") != build.input_key(tool, version, cfg.root / "tools"):
            found.append(f"{tool.name} {entry.get('version')} (pinned {version})")
    return found


def kubectl_warning(cfg: Config, rows: list[Row]) -> str | None:
    """kubectl should be the one built at kubernetes.version; another is a fallback."""
    probe = next((row.probe for row in rows if row.probe.name == "kubectl"), None)
    if probe is None or probe.path is None:
        return None
    built = str(paths.tools_bin() / "kubectl")
    minor = cfg.kubernetes.minor
    if probe.path == built and _skew(probe.version, minor) <= 1:
        return None
    return (
        f"kubectl {probe.version or '?'} at {probe.path} is a fallback: the project's kubectl "
        f"is {minor} in .tools/bin (Kubernetes {cfg.kubernetes.version}, supported skew ±1); "
        "run `invoke tools.install`"
    )


def minikube_note(cfg: Config, rows: list[Row]) -> str:
    """What the minikube provider runs, and what does not fit it ("" without minikube)."""
    probe = next((row.probe for row in rows if row.probe.name == "minikube"), None)
    if probe is None or probe.path is None:
        return ""
    mk = cfg.cluster.minikube
    note = (
        f"minikube runs Kubernetes {mk.kubernetes}, the newest minikube {mk.version} knows "
        f"(cluster.minikube.kubernetes), not {cfg.kubernetes.version}: a newer one makes "
        "`minikube start` look it up on GitHub"
    )
    if probe.version and probe.version != mk.version.removeprefix("v"):
        note += f"; minikube {probe.version} is installed, the suite is checked against "
        note += mk.version
    kubectl = next((row.probe for row in rows if row.probe.name == "kubectl"), None)
    minor = ".".join(mk.kubernetes.split(".")[:2])
    if kubectl and kubectl.version and _skew(kubectl.version, minor) > 1:
        note += (
            f"; kubectl {kubectl.version} is outside the ±1 skew of {minor}: for this "
            f"cluster use `minikube kubectl --` (kubectl {mk.kubernetes})"
        )
    return note


def _skew(version: str | None, minor: str) -> int:
    if not version:
        return 99
    have = [int(part) for part in version.split(".")[:2]]
    want = [int(part) for part in minor.split(".")[:2]]
    return 99 if have[0] != want[0] else abs(have[1] - want[1])
