"""`invoke doctor`: which tools are installed, at which version, and what is missing."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from opskit import tools


@dataclass(frozen=True)
class Row:
    probe: tools.Probe
    required: bool
    hint: str


def check(required: tuple[str, ...]) -> list[Row]:
    """Probe every registered tool in parallel (each probe is one short process)."""
    names = list(tools.TOOLS)
    with ThreadPoolExecutor(max_workers=8) as pool:
        probes = list(pool.map(tools.probe, names))
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
    """The `doctor --json` shape: stable keys, documented in README.md."""
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
