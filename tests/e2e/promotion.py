"""`invoke promote` driven as a user would, for the e2e modules of both clusters
(tests/e2e/test_promote.py: ArgoCD as local processes; tests/e2e_node/test_node_promote.py: ArgoCD
as pods on the real node): the pull request merged in the scratch repository, and the checks
each outcome must pass on either cluster.

The clone that promotes has a GitHub or Bitbucket `origin` (for the pull-request command)
that a local `url.<path>.insteadOf` sends to the scratch repository ArgoCD reads.
"""

from __future__ import annotations

import json
import re
import sys
import time
from collections.abc import Callable
from pathlib import Path

import sh
import yaml

from tests.e2e.project import BIN, Project

PROD = "k8s/overlays/prod"
GITHUB = "git@github.com:gitops-lab/gitops-lab.git"
BITBUCKET = "https://bitbucket.org/gitops-lab/gitops-lab.git"


def say(message: str) -> None:
    print(f"[e2e] {message}", file=sys.stderr, flush=True)


def run(project: Project, *args: str, ok=(0,)) -> tuple[int, str, str]:
    done = project.invoke(*args, ok=ok)
    return done.exit_code, done.stdout.decode(), done.stderr.decode()


def app_status(project: Project, name: str) -> dict:
    _, out, _ = run(project, "argocd.status", "--json")
    return next(row for row in json.loads(out) if row["name"] == name)


def release_dev(
    project: Project, note: str, before_release: Callable[[Project], object] | None = None
) -> str:
    """A change committed and released to dev (`release --watch`); `before_release` runs
    between the two (the real node builds and loads the images of the new commit)."""
    (project.path / "app" / "RELEASE_NOTE").write_text(note)
    project.commit_all(f"feat: {note.strip()}")
    if before_release is not None:
        before_release(project)
    run(project, "release", "--overlay=dev", "--watch", "--timeout=300")
    return project.git("rev-parse", "HEAD")


def pins(text: str) -> dict[str, str]:
    return {e["name"]: str(e["newTag"]) for e in yaml.safe_load(text)["images"]}


def branches(project: Project) -> set[str]:
    out = project.git("for-each-ref", "--format=%(refname:short)", "refs/heads/promote/")
    return set(out.split())


def clone_of(origin: Project, target: Path, url: str = GITHUB) -> Project:
    """A clone whose `origin` is `url`, fetched from and pushed to `origin`'s repository."""
    sh.git("clone", "-q", str(origin.path), str(target))
    clone = Project(target, origin.env)
    clone.git("remote", "set-url", "origin", url)
    clone.git("config", f"url.{origin.path}.insteadOf", url)
    return clone


def promote_and_merge(origin: Project, clone: Project, *args: str) -> tuple[int, str, str, float]:
    """`invoke promote ... --push --watch` in the clone; the branch it pushes is merged in
    `origin` (the pull request) as soon as it appears. Returns code, stdout, stderr and the
    seconds from the start of `invoke promote` to its end (Healthy, or the revert synced)."""
    before = branches(origin)
    started = time.monotonic()
    command = sh.Command(str(BIN / "invoke"))(
        "promote",
        "--from=dev",
        "--to=prod",
        "--push",
        "--watch",
        *args,
        _cwd=clone.path,
        _env=clone.env,
        _bg=True,
        _ok_code=[0, 1],
        _return_cmd=True,
        _tty_out=False,
    )
    while command.is_alive() and not branches(origin) - before:
        time.sleep(0.2)
    new = sorted(branches(origin) - before)
    if new:
        origin.git("merge", "--ff-only", "-q", new[0])
        say(f"merged {new[0]} {time.monotonic() - started:.1f}s after promote started")
    command.wait()
    seconds = time.monotonic() - started
    return command.exit_code, command.stdout.decode(), command.stderr.decode(), seconds


def check_promoted(
    origin: Project, proven: str, code: int, out: str, err: str, pr_command: str
) -> str:
    """A promotion of dev@`proven` merged and Synced/Healthy in prod: its commit, trailers,
    pins, diff and pull-request command (`pr_command`: a pattern of how it starts); returns
    its SHA."""
    __tracebackhide__ = True
    assert code == 0, err
    head = origin.git("rev-parse", "HEAD")
    assert re.search(rf"gitops-lab-prod Synced\+Healthy at {head[:12]} after", err), err
    promotion = origin.git("log", "-1", "--format=%H", "--grep=chore(promote): ")
    subject = origin.git("log", "-1", "--format=%s", promotion)
    assert subject == f"chore(promote): dev@{proven[:12]} -> prod"
    trailers = origin.git("log", "-1", "--format=%(trailers:only,unfold)", promotion)
    dev_pins = pins(origin.git("show", f"{proven}:k8s/overlays/dev/kustomization.yaml"))
    assert f"Promoted-From: dev@{proven}" in trailers
    assert "Evidence: argocd: ArgoCD gitops-lab-dev Synced/Healthy" in trailers
    assert re.search(r"Evidence-Time: \d{4}-\d\d-\d\dT", trailers), trailers
    assert f"Image: api=localhost:5000/gitops-lab/api:{dev_pins['api']}" in trailers
    assert pins((origin.path / PROD / "kustomization.yaml").read_text()) == dev_pins
    changed = origin.git("diff-tree", "--no-commit-id", "--name-only", "-r", promotion)
    assert changed.split() == [f"{PROD}/kustomization.yaml"]
    assert "Deployment/api: changed" in out and f"api:{dev_pins['api']}" in out
    assert re.search(f"open the pull request: {pr_command}", err), err
    body = re.search(r"pull-request body \(Markdown\): (\S+)", err).group(1)
    assert "### Manifest diff" in Path(body).read_text()
    row = app_status(origin, "gitops-lab-prod")
    assert (row["revision"], row["sync"], row["health"]) == (head, "Synced", "Healthy")
    _, table, _ = run(origin, "promote", "--history", "--to=prod")
    print(table, file=sys.stderr)
    assert promotion[:12] in table and f"dev@{proven[:12]}" in table
    assert "argocd: ArgoCD gitops-lab-dev Synced/Healthy" in table
    return promotion


def check_reverted(
    origin: Project, proven: str, good: str, code: int, err: str, timeout: int, unready: str
) -> str:
    """A promotion of dev@`proven` whose `unready` Deployment in prod never got Ready within
    `timeout`: reverted in git to prod's last good revision `good`, the revert Synced and
    Healthy; returns the revert's SHA."""
    __tracebackhide__ = True
    assert code == 1, err
    last = err.strip().splitlines()[-1]
    revert = origin.git("rev-parse", "HEAD")
    assert re.fullmatch(
        rf"opskit: error: promotion of dev@{proven[:12]} to prod failed \(gitops-lab-prod not "
        rf"Synced\+Healthy at \w{{12}} after {timeout}s: Deployment gitops-lab-prod/{unready} "
        rf"\w+.*\); rolled back in git: {revert[:12]} is Synced and Healthy",
        last,
    ), last
    assert origin.git("log", "-1", "--format=%s") == (
        f"chore(promote): revert dev@{proven[:12]} -> prod"
    )
    assert origin.git("diff", good, revert, "--", PROD) == ""  # prod's last good config again
    row = app_status(origin, "gitops-lab-prod")
    assert (row["revision"], row["sync"], row["health"]) == (revert, "Synced", "Healthy")
    _, table, _ = run(origin, "promote", "--history", "--to=prod")
    print(table, file=sys.stderr)
    assert revert[:12] in table  # the reverted promotion names its revert
    return revert


def dev_unhealthy_at(project: Project, head: str, within: float) -> dict:
    """dev's Application once ArgoCD has synced `head` and calls it anything but Healthy."""
    started = time.monotonic()
    while time.monotonic() - started < within:
        row = app_status(project, "gitops-lab-dev")
        if row["revision"] == head and row["health"] != "Healthy":
            break
        time.sleep(1)
    assert (row["revision"], row["sync"]) == (head, "Synced"), row
    return row


def check_refused_without_evidence(project: Project, head: str, health: str) -> None:
    """`invoke promote` with dev Synced/`health` at `head`: one line, nothing committed."""
    __tracebackhide__ = True
    known = branches(project)
    _, _, err = run(project, "promote", ok=(1,))
    print(err, file=sys.stderr)
    assert len(err.strip().splitlines()) == 1
    assert re.fullmatch(
        rf"opskit: error: no evidence for dev: gitops-lab-dev is Synced/{health} at "
        rf"{head[:12]}, no revision ArgoCD reports Healthy; wait until it is .*",
        err.strip(),
    ), err
    assert project.git("rev-parse", "HEAD") == head and branches(project) == known
