"""Offline, semantic diff of the rendered manifests at two commits (`invoke manifests.diff`).

Objects are matched by `target/Kind/name` (a target is an overlay or `argocd`); a changed
object shows a unified diff of its YAML with sorted keys, so only real changes show. Secrets
are compared by key (opskit.diff.secretkeys): their values never reach any output.
"""

from __future__ import annotations

import difflib
import functools
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import yaml

from opskit.core import shell
from opskit.diff import secretkeys, sources
from opskit.diff.secretkeys import REENCRYPTED, SecretFile
from opskit.secrets import sops

ADDED, REMOVED, CHANGED = "added", "removed", "changed"
STATUSES = (ADDED, REMOVED, CHANGED, REENCRYPTED)


@dataclass(frozen=True)
class Change:
    target: str  # overlay name or "argocd"
    kind: str
    name: str
    status: str  # one of STATUSES
    lines: tuple[str, ...] = ()  # unified diff lines, or `data.KEY: changed` lines

    @property
    def ref(self) -> str:
        return f"{self.target}/{self.kind}/{self.name}"

    @property
    def counts(self) -> bool:
        """Whether it changes what a cluster gets (a re-encryption alone does not)."""
        return self.status != REENCRYPTED


@dataclass(frozen=True)
class Result:
    base: str  # `ref (sha)` labels
    head: str
    targets: tuple[str, ...]
    changes: tuple[Change, ...]

    @property
    def changed(self) -> bool:
        return any(c.counts for c in self.changes)


def as_yaml(obj: dict) -> list[str]:
    """An object as YAML lines in a stable (sorted) key order."""
    return yaml.safe_dump(obj, sort_keys=True, default_flow_style=False).splitlines()


def unified(old: dict | None, new: dict | None, old_label: str, new_label: str) -> list[str]:
    lines = difflib.unified_diff(
        as_yaml(old) if old is not None else [],
        as_yaml(new) if new is not None else [],
        old_label,
        new_label,
        lineterm="",
    )
    return list(lines)


def _index(objects: list[dict]) -> dict[tuple[str, str], dict]:
    return {(str(o.get("kind")), str((o.get("metadata") or {}).get("name"))): o for o in objects}


def compare_objects(target: str, old: list[dict], new: list[dict], labels) -> list[Change]:
    """Added, removed and changed objects of one target."""
    before, after = _index(old), _index(new)
    changes = []
    for key in sorted(before.keys() | after.keys()):
        a, b = before.get(key), after.get(key)
        if a == b:
            continue
        status = ADDED if a is None else REMOVED if b is None else CHANGED
        changes.append(Change(target, *key, status, tuple(unified(a, b, *labels))))
    return changes


def compare_secrets(
    target: str, old: dict[str, SecretFile], new: dict[str, SecretFile], labels, mine
) -> list[Change]:
    """Added, removed and changed Secrets of one overlay, by key only (`mine()`: the user's
    age recipients)."""
    names = sorted(old.keys() | new.keys())

    def verdict(name: str) -> Change | None:
        a, b = old.get(name), new.get(name)
        if a is None or b is None:
            either = a or b
            assert either is not None  # names come from the two sides' keys
            doc = sops.load_doc(either.path)
            status = ADDED if a is None else REMOVED
            return Change(target, "Secret", name, status, tuple(secretkeys.key_lines(doc, status)))
        found = secretkeys.compare(a, b, mine)
        if not found.status:
            return None
        fields = unified(*found.rest, *labels) if found.rest[0] != found.rest[1] else []
        return Change(target, "Secret", name, found.status, (*found.keys, *fields))

    with ThreadPoolExecutor(max_workers=4) as pool:  # each is mostly waiting on sops
        return [c for c in pool.map(verdict, names) if c is not None]


def _secret_files(side: sources.Side, target: str) -> dict[str, SecretFile]:
    cfg = side.tree.cfg
    files: dict[str, Path] = side.secret_files.get(target, {})
    return {n: SecretFile(p, cfg, cfg.overlays[target]) for n, p in files.items()}


def compare(base: sources.Side, head: sources.Side) -> list[Change]:
    """Every change from `base` to `head`, ordered by target, kind and name."""
    labels = (f"a ({base.tree.short})", f"b ({head.tree.short})")
    mine = functools.cache(sops.my_recipients)  # one age-keygen, only if a file differs
    changes = []
    for target in sorted(base.objects.keys() | head.objects.keys()):
        changes += compare_objects(
            target, base.objects.get(target, []), head.objects.get(target, []), labels
        )
        changes += compare_secrets(
            target, _secret_files(base, target), _secret_files(head, target), labels, mine
        )
    return sorted(changes, key=lambda c: (c.target, c.kind, c.name))


def run(root: Path, base: str, head: str | None = None, targets: list[str] | None = None):
    """Render both sides and compare them; values of Secrets are redacted in every line.
    `head` None is the working tree. When git shows no change under k8s/ or in opskit.yaml,
    nothing is rendered."""
    shas = sources.resolve_all(root, [base] + ([head] if head else []))
    refs: list[tuple[str, str | None]] = [
        (base, shas[0]),
        (head, shas[1]) if head else ("working tree", None),
    ]
    if not sources.changed_paths(root, shas[0], refs[1][1]):
        return _unchanged(root, refs, targets)
    with sources.load_both(root, refs, targets) as (old, new):
        changes = compare(old, new)
        names = tuple(sorted(old.objects.keys() | new.objects.keys()))
        result = Result(_label(old.tree), _label(new.tree), names, tuple(changes))
    return _redacted(result)


def _unchanged(root: Path, refs, targets: list[str] | None) -> Result:
    from opskit.core import config

    cfg = config.load(root / "opskit.yaml")
    for name in targets or ():
        if name != sources.ARGOCD:
            cfg.overlay(name)
    names = targets or [*cfg.overlays, sources.ARGOCD]
    old, new = (sources.Tree(label, sha, cfg) for label, sha in refs)
    return Result(_label(old), _label(new), tuple(sorted(names)), ())


def _label(tree: sources.Tree) -> str:
    return tree.label if tree.commit is None else f"{tree.label} ({tree.short})"


def _redacted(result: Result) -> Result:
    """Belt and braces: no registered secret value survives in any line."""
    import dataclasses

    clean = tuple(
        dataclasses.replace(c, lines=tuple(shell.redact(line) for line in c.lines))
        for c in result.changes
    )
    return dataclasses.replace(result, changes=clean)
