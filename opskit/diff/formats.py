"""The offline diff as text for a terminal, or as Markdown for a pull request."""

from __future__ import annotations

from collections import Counter

from opskit.diff.offline import STATUSES, Change, Result

INDENT = "    "


def summary(result: Result) -> str:
    """e.g. `2 changed, 1 added in dev, prod, argocd (main (0123abcd) -> working tree)`."""
    counts = Counter(c.status for c in result.changes)
    parts = [f"{counts[s]} {s}" for s in STATUSES if counts[s]] or ["no changes"]
    return f"{', '.join(parts)} in {', '.join(result.targets)} ({result.base} -> {result.head})"


def text(result: Result) -> str:
    """One `target/Kind/name: status` line per object, its diff lines indented below."""
    out = []
    for change in result.changes:
        out.append(f"{change.ref}: {change.status}")
        out += [INDENT + line for line in change.lines]
    return "".join(line + "\n" for line in out)


def markdown(result: Result) -> str:
    """A summary table, then one collapsible section per target with its objects' diffs."""
    out = [f"### Manifest diff: `{result.base}` → `{result.head}`", ""]
    if not result.changes:
        return "\n".join([*out, f"No changes in {', '.join(result.targets)}.", ""])
    out += ["| target | " + " | ".join(STATUSES) + " |", "|---" * (len(STATUSES) + 1) + "|"]
    by_target: dict[str, list[Change]] = {}
    for change in result.changes:
        by_target.setdefault(change.target, []).append(change)
    for target in result.targets:
        counts = Counter(c.status for c in by_target.get(target, []))
        out.append(f"| {target} | " + " | ".join(str(counts[s]) for s in STATUSES) + " |")
    for target, changes in by_target.items():
        out += ["", f"<details><summary><b>{target}</b>: {len(changes)} object(s)</summary>", ""]
        for change in changes:
            out += _section(change)
        out += ["</details>"]
    return "\n".join([*out, ""])


def _section(change: Change) -> list[str]:
    head = f"- `{change.ref}`: {change.status}"
    if not change.lines:
        return [head, ""]
    return [head, "", "```diff", *(line.replace("```", "'''") for line in change.lines), "```", ""]
