"""After a clean-room release job: the bare remote's main holds one release commit on top
of the job's commit, pinning exactly the image the job pushed, and that main is green:
its renders (what ArgoCD and deploy read) and its manifest checks pass."""

from __future__ import annotations

import os
import shlex
import sys
from pathlib import Path

from opskit.core import config, shell
from opskit.gitops import release
from opskit.manifests import kustomize

MAIN_CHECKS = (  # run in a fresh clone of the released main: what a release used to break
    ("-m", "invoke", "manifests.validate"),
    ("-m", "invoke", "manifests.render", "--overlay=dev"),
    ("-m", "pytest", "-q", "-p", "no:cacheprovider", "tests/manifests/test_render.py"),
    ("-m", "pytest", "-q", "-p", "no:cacheprovider", "tests/manifests/test_set_image.py"),
)


def check_release(room, outcome) -> str:
    """A problem line, or "" when the release is what it should be."""
    pushes = [shlex.split(r)[2] for r in outcome.record if r.startswith("docker push ")]
    cfg = config.load(room.work / "opskit.yaml")
    if len(pushes) != len(cfg.images) or len(set(pushes)) != len(pushes):
        return f"expected one `docker push` per image of opskit.yaml, recorded {pushes or 'none'}"
    app = f"/{cfg.app.name}:"
    pushed = next((p for p in pushes if app in p), pushes[0])
    git = ["git", "-C", str(room.remote)]
    head = shell.run([*git, "rev-parse", "main"]).stdout.strip()
    parent = shell.run([*git, "rev-parse", "main~1"], check=False).stdout.strip()
    subject = shell.run([*git, "log", "-1", "--format=%s", "main"]).stdout.strip()
    if parent != room.commit_of_job or not subject.startswith(release.RELEASE_PREFIX):
        return f"remote main is {head[:12]} ({subject!r}), not one release on the job's commit"
    released = room.dir / "released"
    shell.run(["rm", "-rf", str(released)])
    shell.run(["git", "clone", "-q", "-b", "main", str(room.remote), str(released)])
    return _pin_problem(released, pushed) or _main_problem(released)


def _pin_problem(released: Path, pushed: str) -> str:
    """The dev overlay ArgoCD renders runs the pushed image; deploy's render pins its own."""
    saved = os.environ.pop("OPSKIT_IMAGE", None)
    try:
        cfg = config.load(released / "opskit.yaml")
        argocd = {
            c["image"]
            for o in kustomize.render_overlay(cfg, "dev")
            for _, c in kustomize.containers(o)
        }
        if pushed not in argocd:
            return f"released dev overlay runs {sorted(argocd)}, not the pushed {pushed}"
        deploy = kustomize.render_overlay(cfg, "dev", tag="0123456789ab")
        if not any(
            c["image"].endswith(":0123456789ab") for o in deploy for _, c in kustomize.containers(o)
        ):
            return "a deploy render of the released main does not pin the app image"
    finally:
        if saved is not None:
            os.environ["OPSKIT_IMAGE"] = saved
    return ""


def _main_problem(released: Path) -> str:
    env = {"OPSKIT_ROOT": str(released)}
    for args in MAIN_CHECKS:
        result = shell.run(
            [sys.executable, *args], cwd=str(released), env=env, check=False, timeout=600
        )
        if result.returncode != 0:
            tail = (result.stdout + result.stderr).strip().splitlines()[-1:]
            return f"released main is red: `{' '.join(args[1:])}`: {tail}"
    return ""
