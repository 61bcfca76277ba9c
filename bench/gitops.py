"""GitOps figures: ArgoCD (local processes on the bench's kwok cluster) from commit to
Synced/Healthy through `invoke release` + `invoke argocd.wait` (which asks ArgoCD for the
revision), and by polling alone (the suite's 10 s resync, and opt-in ArgoCD's default
polling), and the no-op `invoke argocd.install`."""

from __future__ import annotations

import itertools
import json
import random
import shutil
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

from bench import scratch
from bench.workspace import BenchError, Workspace, program, say, timed

CHECKOUT = Path(__file__).resolve().parents[1]
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


# --- ArgoCD as pods on the embedded cluster's real node -----------------------------------
NODE_KEYS = ("gitops_node_release_wait", "gitops_node_release_watch")
# where the release_wait samples went, read off the Application while the commands ran
NODE_PHASES = (
    "gitops_node_phase_release",  # `invoke release`: the commit
    "gitops_node_phase_detect",  # until ArgoCD compares against it (argocd.wait's refresh)
    "gitops_node_phase_sync",  # until its sync operation succeeded
    "gitops_node_phase_healthy",  # until the Application is Healthy (the pods' rollout)
    "gitops_node_phase_exit",  # until argocd.wait saw it and exited
)
NODE_TIMEOUT = "300"


def node_workspace(cluster: str) -> Workspace:
    """A scratch copy of the checkout of its own for a real-node cluster `<cluster>-node`
    (only one real node per machine; the kwok scenarios keep their own cluster), in a short
    folder: the node's containerd socket lives under it (at most 100 bytes)."""
    home = Path(tempfile.mkdtemp(prefix="glb-"))
    repo = home / "repo"
    repo.mkdir()
    scratch.copy_checkout(CHECKOUT, repo)
    scratch.compile_bytecode(repo)
    data = scratch.load_config(repo)
    scratch.save_config(
        repo, scratch.configure(data, f"{cluster}-node", nodes=data["cluster"]["nodes"])
    )
    scratch.commit_all(repo, "bench: scratch copy for the real node")
    ws = Workspace(repo, f"{cluster}-node", home / "age" / "keys.txt")
    ws.env["OPSKIT_KWOK_NODE"] = "real"  # a machine that cannot is a failed figure, not a skip
    return ws


class _Tracker(threading.Thread):
    """Follows the dev Application (`kubectl get --watch`: every change, no polling load)
    while the commands run: when ArgoCD first compared against the released revision
    (detect), first had it Synced with its operation done (sync), and first Synced+Healthy
    at it (healthy), in seconds from `started`."""

    def __init__(self, ws: Workspace, revision_of: Callable[[], str], started: float):
        super().__init__(daemon=True)
        self.ws, self.revision_of, self.started = ws, revision_of, started
        self.seen: dict[str, float] = {}
        argv = ["--kubeconfig", str(ws.kubeconfig), "--context", ws.context, "-n", "argocd"]
        argv += ["get", "application", APP, "-o", "json", "--watch"]
        kubectl = str(program("kubectl", ws.repo))
        self.proc = subprocess.Popen(
            [kubectl, *argv], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=ws.env
        )

    def run(self) -> None:
        decoder, buffer = json.JSONDecoder(), ""
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            buffer += line.decode()
            while buffer.strip():
                try:
                    obj, end = decoder.raw_decode(buffer.lstrip())
                except ValueError:
                    break  # the rest of this object is still coming
                buffer = buffer.lstrip()[end:]
                if revision := self.revision_of():
                    self._look(obj, revision, time.monotonic() - self.started)

    def finish(self) -> dict[str, float]:
        self.proc.terminate()
        self.proc.wait()
        self.join()
        return self.seen

    def _look(self, obj: dict, revision: str, now: float) -> None:
        status = obj.get("status") or {}
        sync, health = status.get("sync") or {}, status.get("health") or {}
        op = status.get("operationState") or {}
        result = op.get("syncResult") or {}
        at = (sync.get("revisions") or [sync.get("revision")])[0] == revision
        synced = (result.get("revisions") or [result.get("revision")])[0] == revision
        if at:
            self.seen.setdefault("detect", now)
        if at and synced and op.get("phase") == "Succeeded" and sync.get("status") == "Synced":
            self.seen.setdefault("sync", now)
            if health.get("status") == "Healthy":
                self.seen.setdefault("healthy", now)


def _change(ws: Workspace, index: int) -> None:
    """A commit CI would build an image of (telemetry, built and loaded here as CI would
    push it; not timed): the dev ConfigMap value changes, the image tag moves with it."""
    _release_commit(ws, index)
    ws.invoke("image.build", "--image=telemetry")
    ws.invoke("image.load", "--image=telemetry")


def _head(ws: Workspace) -> str:
    return ws.tool("git", "-C", str(ws.repo), "rev-parse", "HEAD").strip()


def _release_to_healthy(ws: Workspace, watch: bool) -> tuple[float, dict[str, float]]:
    """Seconds from `invoke release` to Synced+Healthy at its commit, through the commands
    a user types: `invoke release` then `invoke argocd.wait --revision=<it>`, or
    `invoke release --watch`; and the moments the tracker saw (plus `released`: the
    release command done, without --watch)."""
    before = _head(ws)
    released: list[str] = []

    def revision() -> str:
        if not released and (head := _head(ws)) != before:
            released.append(head)
        return released[0] if released else ""

    started = time.monotonic()
    tracker = _Tracker(ws, revision, started)
    tracker.start()
    marks = {}
    try:
        if watch:
            ws.invoke("release", "--overlay=dev", "--watch", f"--timeout={NODE_TIMEOUT}")
        else:
            ws.invoke("release", "--overlay=dev")
            marks["released"] = time.monotonic() - started
            sha = _head(ws)
            ws.invoke(
                "argocd.wait", "--overlay=dev", f"--revision={sha}", f"--timeout={NODE_TIMEOUT}"
            )
        took = time.monotonic() - started
    finally:
        marks.update(tracker.finish())
    return took, marks


def setup_node(ws: Workspace) -> None:
    """The real-node cluster as a user brings it up: the dev overlay deployed (its images
    built and loaded), ArgoCD installed as pods and bootstrapped, one release synced."""
    started = time.monotonic()
    ws.invoke("cluster.up", "--provider", "kwok", "--name", ws.cluster)
    say(f"gitops-node: {ws.context} with a real node up in {time.monotonic() - started:.0f}s")
    ws.invoke("secrets.init", "--overlay", "dev")
    ws.invoke("certs.init")
    scratch.commit_all(ws.repo, "bench: dev secrets for the bench key")
    for step in (("deploy", "--overlay=dev"), ("argocd.install",), ("argocd.bootstrap",)):
        begun = time.monotonic()
        ws.invoke(*step)
        say(f"gitops-node: invoke {' '.join(step)} {time.monotonic() - begun:.0f}s")
    took, _ = _release_to_healthy(ws, watch=False)  # warm-up: the first release
    say(f"gitops-node: first release Synced/Healthy in {took:.1f}s (not counted)")


def phase_split(seen: dict[str, float], took: float) -> list[float] | None:
    """`took` split at the moments seen (seconds from `invoke release`), one figure per
    NODE_PHASES; None when a moment was not seen. The watch reports a moment a little after
    it happened, so one can come after the next, or after `argocd.wait` exited, which cannot
    happen before it: each moment is bounded by the ones after it (the earliest observation
    of it), so no phase is negative and they still add up to `took`."""
    order = ("released", "detect", "sync", "healthy")
    if not all(k in seen for k in order):
        return None
    marks = [0.0, *(seen[k] for k in order), took]
    for i in range(len(marks) - 2, 0, -1):
        marks[i] = min(marks[i], marks[i + 1])
    return [b - a for a, b in itertools.pairwise(marks)]


def measure_node(ws: Workspace, runs: int, samples: dict[str, list[float]]) -> None:
    """commit -> Synced/Healthy with ArgoCD and the overlay as real pods, `runs` times
    each way (release + argocd.wait --revision, release --watch), phases beside."""
    setup_node(ws)
    for index in range(runs):
        for key, watch in ((NODE_KEYS[0], False), (NODE_KEYS[1], True)):
            _change(ws, 5000 + index * 2 + watch)
            took, seen = _release_to_healthy(ws, watch)
            samples.setdefault(key, []).append(took)
            phases = " ".join(f"{k} {v:.1f}" for k, v in seen.items())
            say(f"gitops-node: {key} {took:.2f}s ({phases})")
            if not watch and (split := phase_split(seen, took)):
                for phase, seconds in zip(NODE_PHASES, split, strict=True):
                    samples.setdefault(phase, []).append(seconds)
    medians = {
        k: sorted(samples[k])[len(samples[k]) // 2]
        for k in (*NODE_KEYS, *NODE_PHASES)
        if samples.get(k)
    }
    say("gitops-node: " + ", ".join(f"{k} {v:.2f}s" for k, v in medians.items()))


def teardown_node(ws: Workspace) -> None:
    """`invoke cluster.down`, then the scratch copy goes."""
    try:
        ws.invoke("cluster.down", "--provider", "kwok", "--name", ws.cluster)
    except BenchError as exc:
        say(f"gitops-node: cluster.down failed: {exc}")
    for _ in range(3):  # the node's daemons may still be letting go of their files
        shutil.rmtree(ws.repo.parent, ignore_errors=True)
        if not ws.repo.parent.exists():
            break
        time.sleep(1)
