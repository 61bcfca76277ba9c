"""`invoke promote --history --to=prod`: the promotions into an overlay, from git alone.

Each promotion commit carries its evidence in trailers (opskit.gitops.promote.message);
a `chore(promote): revert ...` marks the ones rolled back.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from opskit.core import shell

PREFIX = "chore(promote): "
FIELD, RECORD = "\x1f", "\x1e"


@dataclass(frozen=True)
class Entry:
    commit: str
    date: str  # committer date, ISO
    subject: str
    trailers: dict[str, list[str]]
    reverted_by: str = ""  # the revert commit, when rolled back

    def first(self, key: str) -> str:
        return (self.trailers.get(key) or ["-"])[0]


def _trailers(block: str) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for line in block.splitlines():
        key, sep, value = line.partition(": ")
        if sep:
            found.setdefault(key.strip(), []).append(value.strip())
    return found


def history(root: Path, target: str) -> list[Entry]:
    """Promotions into `target`, newest first."""
    out = shell.run(
        [
            *("git", "-C", str(root), "log", "--fixed-strings", f"--grep={PREFIX}"),
            f"--format=%H{FIELD}%cI{FIELD}%s{FIELD}%(trailers:only,unfold){RECORD}",
        ],
        timeout=60,
    ).stdout
    suffix = f" -> {target}"
    entries: list[Entry] = []
    reverts: dict[str, str] = {}
    for record in out.split(RECORD):
        parts = record.strip("\n").split(FIELD)
        if len(parts) != 4 or not parts[2].startswith(PREFIX) or not parts[2].endswith(suffix):
            continue
        commit, date, subject, block = parts
        what = subject.removeprefix(PREFIX)
        if what.startswith("revert "):
            reverts.setdefault(what.removeprefix("revert "), commit)
            continue
        entries.append(Entry(commit, date, subject, _trailers(block), reverts.get(what, "")))
    return entries


def table(entries: list[Entry]) -> str:
    """One promotion per line: when, commit, from, evidence and its time, images."""
    header = ("DATE", "COMMIT", "FROM", "EVIDENCE", "EVIDENCE-TIME", "IMAGES", "REVERTED")
    rows = [header] + [
        (
            e.date,
            e.commit[:12],
            _short_from(e.first("Promoted-From")),
            e.first("Evidence"),
            e.first("Evidence-Time"),
            " ".join(
                i.split("=", 1)[0] + ":" + i.rsplit(":", 1)[-1] for i in e.trailers.get("Image", [])
            ),
            e.reverted_by[:12] or "-",
        )
        for e in entries
    ]
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    return "\n".join(
        "  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() for row in rows
    )


def _short_from(value: str) -> str:
    overlay, _, revision = value.partition("@")
    return f"{overlay}@{revision[:12]}" if revision else value
