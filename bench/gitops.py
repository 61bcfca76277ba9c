"""GitOps figures: ArgoCD (local processes on the bench's kwok cluster) from commit to
Synced/Healthy through `invoke release` + `invoke argocd.wait` (which asks ArgoCD for the
revision), and by polling alone (the suite's 10 s resync, and opt-in ArgoCD's default
polling), and the no-op `invoke argocd.install`."""

from __future__ import annotations

import json
import random
import time

from bench import scratch
from bench.workspace import BenchError, Workspace, say, timed

APP = "gitops-lab-dev"
KEYS = ("argocd_install_noop", "gitops_commit_refresh", "gitops_commit_poll")
DEFAULT_POLL = "gitops_commit_default_poll"
# How far apart ArgoCD's defaults pick up a new commit: a reconciliation every 120-240 s
# (resync 120 s, up to 60 s jitter, skipped until the last one is 120 s old), and one within
# 3 min of the previous `git ls-remote` reuses its answer; a run measured pickups ~5 min apart
PICKUP_SPREAD = 300.0
SAMPLE_TIMEOUT = 900.0


def _release_commit(ws: Workspace, index: int) -> str:
    """A commit that changes what dev runs (a ConfigMap value), like a release would."""
    path = ws.repo / "k8s/overlays/dev/api-config.yaml"
    text = path.read_text()
    marker = "# bench revision"
    lines = [line for line in text.splitlines() if not line.startswith(marker)]
    path.write_text("\n".join([*lines, f"{marker} {index}-{time.time_ns()}"]) + "\n")
    ws.tool(
        "git",
        "-C",
        str(ws.repo),
        "-c",
        "user.name=bench",
        "-c",
        "user.email=b@localhost",
        "commit",
        "-q",
        "-am",
        f"bench: revision {index}",
    )
    return ws.tool("git", "-C", str(ws.repo), "rev-parse", "HEAD").strip()


def _commit_to_healthy(ws: Workspace, index: int, release: bool) -> float:
    """Seconds from the commit to Synced+Healthy at it. With `release`, through the
    commands a user types: `invoke release` (its commit pins the image to HEAD), then
    `invoke argocd.wait --revision=<it>`, which asks ArgoCD to read the revision at once.
    Without, ArgoCD's polling alone picks the commit up (read every 0.5 s, no refresh)."""
    started = time.monotonic()
    revision = _release_commit(ws, index)
    if release:
        ws.invoke("release", "--overlay=dev")
        revision = ws.tool("git", "-C", str(ws.repo), "rev-parse", "HEAD").strip()
        ws.invoke("argocd.wait", "--overlay=dev", f"--revision={revision}", "--timeout=300")
        return time.monotonic() - started
    while not ((now := _synced_healthy_revision(ws)) and _contains(ws, now, revision)):
        if time.monotonic() - started > SAMPLE_TIMEOUT:
            late = f"{revision[:12]} not Synced/Healthy in {SAMPLE_TIMEOUT:.0f}s"
            raise BenchError(f"polling: {late}")
        time.sleep(0.5)
    return time.monotonic() - started


def measure(ws: Workspace, runs: int, samples: dict[str, list[float]]) -> None:
    say("gitops: argocd.install + bootstrap on the bench cluster")
    ws.invoke("secrets.init", "--overlay", "dev")  # the repo-server decrypts with the bench key
    scratch.commit_all(ws.repo, "bench: dev secrets for the bench key")
    ws.invoke("argocd.install")
    ws.invoke("argocd.bootstrap")
    ws.invoke("argocd.wait", "--overlay=dev", "--timeout=300")
    ws.invoke("argocd.install")  # warm-up of the no-op
    for _ in range(runs):
        samples.setdefault(KEYS[0], []).append(timed(lambda: ws.invoke("argocd.install")))
    for index in range(runs):
        for key, refresh in ((KEYS[1], True), (KEYS[2], False)):
            samples.setdefault(key, []).append(_commit_to_healthy(ws, index * 2 + refresh, refresh))
    medians = {k: sorted(samples[k])[len(samples[k]) // 2] for k in KEYS}
    say("gitops: " + ", ".join(f"{k} {v:.2f}s" for k, v in medians.items()))


def measure_default_poll(ws: Workspace, count: int, samples: dict[str, list[float]]) -> None:
    """commit -> Synced/Healthy under ArgoCD's default polling (opskit.yaml
    argocd.local_polling: upstream restarts only the local controller and repo-server with
    ArgoCD's own defaults), `count` samples in about 10 minutes whatever `count`.

    Waiting for each commit in turn would take `count` x 3-6 min. The commits are made while
    earlier ones are still pending instead, one in each of `count` equal slices of
    PICKUP_SPREAD at a random point of its slice (stratified: a commit lands at any phase of
    the controller's timers, as a real one does); each sample ends when the Application is
    first Synced/Healthy at a revision containing its commit. Honest, not independent:
    commits picked up by one reconciliation share its moment."""
    say(f"gitops: ArgoCD's default polling, {count} commits over {PICKUP_SPREAD:.0f}s")
    _set_polling(ws, "upstream")
    started = time.monotonic()
    offsets = sorted((i + random.random()) * PICKUP_SPREAD / count for i in range(count))
    pending: dict[str, float] = {}
    found = samples.setdefault(DEFAULT_POLL, [])  # kept if a later sample times out
    while offsets or pending:
        now = time.monotonic()
        if offsets and now - started >= offsets[0]:
            offsets.pop(0)
            pending[_release_commit(ws, 1000 + len(found) + len(pending))] = time.monotonic()
        if pending and (revision := _synced_healthy_revision(ws)):
            for sha in [s for s in pending if _contains(ws, revision, s)]:
                found.append(time.monotonic() - pending.pop(sha))
                say(f"gitops: default polling sample {len(found)}: {found[-1]:.1f}s")
        if pending and now - min(pending.values()) > SAMPLE_TIMEOUT:
            raise BenchError(f"default polling: no sync within {SAMPLE_TIMEOUT:.0f}s")
        time.sleep(0.5)
    _set_polling(ws, "fast")


def _set_polling(ws: Workspace, mode: str) -> None:
    """argocd.local_polling in the scratch opskit.yaml, then `invoke argocd.install` (which
    restarts the controller and repo-server) and a sync at HEAD to start from."""
    data = scratch.load_config(ws.repo)
    data["argocd"]["local_polling"] = mode
    scratch.save_config(ws.repo, data)
    scratch.commit_all(ws.repo, f"bench: argocd.local_polling {mode}")
    ws.invoke("argocd.install")
    ws.kubectl(
        "-n",
        "argocd",
        "annotate",
        "--overwrite",
        "application",
        APP,
        "argocd.argoproj.io/refresh=hard",
    )
    ws.invoke("argocd.wait", "--overlay=dev", "--timeout=300")


def _synced_healthy_revision(ws: Workspace) -> str:
    """The dev Application's revision when it is Synced and Healthy, else ""."""
    status = json.loads(ws.kubectl("-n", "argocd", "get", "application", APP, "-o", "json"))
    status = status.get("status") or {}
    sync, health = status.get("sync") or {}, status.get("health") or {}
    revisions = sync.get("revisions") or [sync.get("revision") or ""]
    ok = (sync.get("status"), health.get("status")) == ("Synced", "Healthy")
    return revisions[0] if ok else ""


def _contains(ws: Workspace, revision: str, commit: str) -> bool:
    """Whether `revision` is `commit` or a descendant of it (it holds the change)."""
    try:
        ws.tool("git", "-C", str(ws.repo), "merge-base", "--is-ancestor", commit, revision)
    except BenchError:
        return False
    return True
