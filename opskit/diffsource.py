"""The two sides of an offline diff: a commit exported from git objects, or the working tree.

A commit's `k8s/` and `opskit.yaml` are written by `git archive` into a temporary folder
(ciphertext only, as in git) and rendered there; the checkout, its index and HEAD are never
touched. Secrets stay SOPS files here; opskit.diffsecrets decrypts them in memory.
"""

from __future__ import annotations

import contextlib
import tarfile
import tempfile
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from opskit import config, manifests, secrets, shell
from opskit.config import Config
from opskit.errors import OpsError

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


def resolve(root: Path, ref: str) -> str:
    """The full sha `ref` names; a one-line error when git knows no such commit."""
    if not ref or ref.startswith("-"):
        raise OpsError(f"invalid git ref {ref!r}", "pass a branch, tag or commit, e.g. main")
    found = _git(root, "rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}", check=False)
    if found.returncode != 0:
        raise OpsError(
            f"unknown git ref {ref!r}: no such commit in {root}",
            "pass a branch, tag or commit (`git log --oneline`); in CI fetch it first "
            "(`git fetch origin main`)",
        )
    return found.stdout.strip()


def changed_paths(root: Path, base: str, head: str | None) -> list[str]:
    """The files under k8s/ and opskit.yaml that differ between the commits (for the working
    tree: tracked changes and untracked files): none means no object can differ."""
    versus = [resolve(root, base)] + ([resolve(root, head)] if head is not None else [])
    out = _git(root, "diff", "--name-only", *versus, "--", *EXPORTED).stdout.split()
    if head is None:
        untracked = ("ls-files", "--others", "--exclude-standard", "--", *EXPORTED)
        out += _git(root, *untracked).stdout.split()
    return out


@contextlib.contextmanager
def checkout(root: Path, ref: str | None) -> Iterator[Tree]:
    """The tree at `ref` (exported to a temporary folder), or the working tree for None."""
    if ref is None:
        yield Tree("working tree", None, config.load(root / "opskit.yaml"))
        return
    commit = resolve(root, ref)
    present = _git(root, "ls-tree", "--name-only", commit, "--", *EXPORTED).stdout.split()
    if "opskit.yaml" not in present:
        raise OpsError(f"{ref} ({commit[:12]}) has no opskit.yaml", "pick a newer commit")
    with tempfile.TemporaryDirectory(prefix="opskit-diff-") as folder:
        archive = Path(folder) / "tree.tar"
        _git(root, "archive", "--format=tar", f"--output={archive}", commit, "--", *present)
        with tarfile.open(archive) as tar:
            tar.extractall(Path(folder, "tree"), filter="data")
        archive.unlink()
        yield Tree(ref, commit, config.load(Path(folder, "tree", "opskit.yaml")))


def load(tree: Tree, names: list[str] | None) -> Side:
    """Render the named targets (default: every overlay and k8s/argocd) and list their
    SOPS files; an overlay missing on this side has no objects."""
    from opskit import validate

    cfg = tree.cfg
    wanted = names or [*cfg.overlays, ARGOCD]
    overlays = [cfg.overlays[n] for n in wanted if n in cfg.overlays]
    overlays = [ov for ov in overlays if (ov.path / "kustomization.yaml").is_file()]
    side = Side(tree)
    if overlays:
        side.objects.update(manifests.render_many(cfg, overlays))
    if ARGOCD in wanted and (cfg.root / "k8s" / ARGOCD / "kustomization.yaml").is_file():
        side.objects[ARGOCD] = validate.argocd_objects(cfg)
    for ov in overlays:
        side.secret_files[ov.name] = {_secret_name(path): path for path in secrets.secret_files(ov)}
    return side


def _secret_name(path: Path) -> str:
    """The Secret's metadata.name (the file name when the file does not say)."""
    doc = secrets.load_doc(path)
    return str((doc.get("metadata") or {}).get("name") or path.name.removesuffix(secrets.SUFFIX))


@contextlib.contextmanager
def load_both(
    root: Path, base: str, head: str | None, names: list[str] | None
) -> Iterator[tuple[Side, Side]]:
    """Both sides, rendered at the same time (each is mostly waiting on kustomize)."""
    with checkout(root, base) as old, checkout(root, head) as new:
        for name in names or ():
            if name != ARGOCD and name not in old.cfg.overlays and name not in new.cfg.overlays:
                new.cfg.overlay(name)  # the one-line error listing the known overlays
        with ThreadPoolExecutor(max_workers=2) as pool:
            sides = list(pool.map(lambda tree: load(tree, names), (old, new)))
        yield sides[0], sides[1]
