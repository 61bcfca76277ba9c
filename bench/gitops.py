"""GitOps figures: ArgoCD (local processes on the bench's kwok cluster) from commit to
Synced/Healthy, with the refresh a release requests and by polling alone, and the no-op
`invoke argocd.install`."""

from __future__ import annotations

import json
import time

from bench import scratch
from bench.workspace import Workspace, say, timed

APP = "gitops-lab-dev"
KEYS = ("argocd_install_noop", "gitops_commit_refresh", "gitops_commit_poll")


def _release_commit(ws: Workspace, index: int) -> str:
    """A commit that changes what dev runs (a ConfigMap value), like a release would."""
    path = ws.repo / "k8s/overlays/dev/api-config.yaml"
    text = path.read_text()
    marker = "# bench revision"
    lines = [line for line in text.splitlines() if not line.startswith(marker)]
    path.write_text("\n".join([*lines, f"{marker} {index}-{time.time_ns()}"]) + "\n")
    ws.tool("git", "-C", str(ws.repo), "-c", "user.name=bench", "-c", "user.email=b@localhost",
            "commit", "-q", "-am", f"bench: revision {index}")  # fmt: skip
    return ws.tool("git", "-C", str(ws.repo), "rev-parse", "HEAD").strip()


def _healthy_at(ws: Workspace, revision: str) -> bool:
    rows = json.loads(ws.invoke("argocd.status", "--json"))
    row = next((r for r in rows if r["name"] == APP), {})
    return (row.get("revision"), row.get("sync"), row.get("health")) == (
        revision, "Synced", "Healthy",
    )  # fmt: skip


def _commit_to_healthy(ws: Workspace, index: int, refresh: bool) -> float:
    """Seconds from the commit to Synced+Healthy at it (wait's own polling: 0.5 s)."""
    started = time.monotonic()
    revision = _release_commit(ws, index)
    if refresh:  # what `invoke release` does right after its commit
        ws.kubectl("-n", "argocd", "annotate", "--overwrite", "application", APP,
                   "argocd.argoproj.io/refresh=hard")  # fmt: skip
    ws.invoke("argocd.wait", "--overlay=dev", f"--revision={revision}", "--timeout=300")
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
