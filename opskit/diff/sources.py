"""The two sides of an offline diff: a commit exported from git objects, or the working tree.

A commit's `k8s/` and `opskit.yaml` are written by `git archive` into a temporary folder
(ciphertext only, as in git) and rendered there; the checkout, its index and HEAD are never
touched. Secrets stay SOPS files here; opskit.diff.secretkeys decrypts them in memory.
"""

from __future__ import annotations

import contextlib
import tarfile
import tempfile
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from opskit.core import config, shell
from opskit.core.config import Config
from opskit.core.errors import OpsError
from opskit.manifests import kustomize
from opskit.secrets import sops

EXPORTED = ("k8s", "opskit.yaml")  # all a render and the Secrets need
ARGOCD = "argocd"  # the name k8s/argocd's objects go by, beside the overlays


@dataclass(frozen=True)
class Tree:
    label: str  # what the user typed (a ref), or "working tree"
    commit: str | None  # full sha; None for the working tree
    cfg: Config

    @property
    def short(self) -> str:
        return self.commit[:12] if self.commit else "working tree"


@dataclass
class Side:
    """Everything one side holds: rendered objects and SOPS files, by target name."""

    tree: Tree
    objects: dict[str, list[dict]] = field(default_factory=dict)
    secret_files: dict[str, dict[str, Path]] = field(default_factory=dict)  # name -> file


def _git(root: Path, *args: str, check: bool = True) -> shell.Result:
    return shell.run(["git", "-C", str(root), *args], timeout=60, check=check)


def _check_ref(ref: str) -> None:
    if not ref or ref.startswith("-"):
        raise OpsError(f"invalid git ref {ref!r}", "pass a branch, tag or commit, e.g. main")


def resolve(root: Path, ref: str) -> str:
    """The full sha `ref` names; a one-line error when git knows no such commit."""
    _check_ref(ref)
    found = _git(root, "rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}", check=False)
    if found.returncode != 0:
        raise OpsError(
            f"unknown git ref {ref!r}: no such commit in {root}",
            "pass a branch, tag or commit (`git log --oneline`); in CI fetch it first "
            "(`git fetch origin main`)",
        )
    return found.stdout.strip()


def resolve_all(root: Path, refs: list[str]) -> list[str]:
    """Full shas of several refs in one git call (one at a time only to name a bad one)."""
    for ref in refs:
        _check_ref(ref)
    found = _git(root, "rev-parse", *(f"{ref}^{{commit}}" for ref in refs), check=False)
    shas = found.stdout.split()
    if found.returncode != 0 or len(shas) != len(refs):
        return [resolve(root, ref) for ref in refs]
    return shas


def changed_paths(root: Path, base: str, head: str | None) -> list[str]:
    """The files under k8s/ and opskit.yaml that differ between two commits (shas; head None:
    the working tree, untracked files included): none means no object can differ."""
    versus = [base] + ([head] if head is not None else [])
    out = _git(root, "diff", "--name-only", *versus, "--", *EXPORTED).stdout.split()
    if head is None:
        untracked = ("ls-files", "--others", "--exclude-standard", "--", *EXPORTED)
        out += _git(root, *untracked).stdout.split()
    return out


def export(root: Path, label: str, commit: str, folder: Path) -> Tree:
    """Write the commit's k8s/ and opskit.yaml into `folder` (git archive, then untar)."""
    archive = folder / "tree.tar"
    wrote = _git(root, "archive", f"--output={archive}", commit, "--", *EXPORTED, check=False)
    if wrote.returncode != 0:  # a path the commit lacks: archive what it has
        present = _git(root, "ls-tree", "--name-only", commit, "--", *EXPORTED).stdout.split()
        if "opskit.yaml" not in present:
            raise OpsError(f"{label} ({commit[:12]}) has no opskit.yaml", "pick a newer commit")
        _git(root, "archive", f"--output={archive}", commit, "--", *present)
    with tarfile.open(archive) as tar:
        tar.extractall(folder / "tree", filter="data")
    archive.unlink()
    return Tree(label, commit, config.load(folder / "tree" / "opskit.yaml"))


def load(tree: Tree, names: list[str] | None) -> Side:
    """Render the named targets (default: every overlay and k8s/argocd) and list their
    SOPS files; an overlay missing on this side has no objects."""
    from opskit.manifests import validate

    cfg = tree.cfg
    wanted = names or [*cfg.overlays, ARGOCD]
    overlays = [cfg.overlays[n] for n in wanted if n in cfg.overlays]
    overlays = [ov for ov in overlays if (ov.path / "kustomization.yaml").is_file()]
    side = Side(tree)
    if overlays:
        side.objects.update(kustomize.render_many(cfg, overlays))
    if ARGOCD in wanted and (kustomize.rendered_folder(cfg.root) / "kustomization.yaml").is_file():
        side.objects[ARGOCD] = validate.argocd_objects(cfg)
    for ov in overlays:
        side.secret_files[ov.name] = {_secret_name(path): path for path in sops.secret_files(ov)}
    return side


def _secret_name(path: Path) -> str:
    """The Secret's metadata.name (the file name when the file does not say)."""
    doc = sops.load_doc(path)
    return str((doc.get("metadata") or {}).get("name") or path.name.removesuffix(sops.SUFFIX))


@contextlib.contextmanager
def load_both(
    root: Path, refs: list[tuple[str, str | None]], names: list[str] | None
) -> Iterator[tuple[Side, Side]]:
    """Both sides, each (label, sha or None for the working tree) exported and rendered at
    the same time: each is mostly waiting on git and kustomize."""

    def side(ref: tuple[str, str | None], folder: str) -> Side:
        label, commit = ref
        if commit is None:
            tree = Tree(label, None, config.load(root / "opskit.yaml"))
        else:
            tree = export(root, label, commit, Path(folder))
        _known(tree, names)
        return load(tree, names)

    with contextlib.ExitStack() as stack:
        folders = [
            stack.enter_context(tempfile.TemporaryDirectory(prefix="opskit-diff-")) for _ in refs
        ]
        with ThreadPoolExecutor(max_workers=2) as pool:
            old, new = pool.map(side, refs, folders)
        yield old, new


def _known(tree: Tree, names: list[str] | None) -> None:
    """An unknown target name is the one-line error listing the known overlays."""
    for name in names or ():
        if name != ARGOCD and tree.commit is None:
            tree.cfg.overlay(name)
