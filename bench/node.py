"""The `node` scenario: the embedded cluster with its real node (kubelet, containerd, runc),
in a scratch copy of its own with a cluster of its own, started and torn down here.

Figures: `cluster.up` (fresh state folder, then warm) and `cluster.down`; the image builds
cold (an empty buildah store) and warm; the first deploy of the dev overlay to Ready real
pods against the raw commands, each into a fresh namespace, with no-op redeploys beside
their floor; the telemetry image rebuilt and loaded after a one-line change by the suite
against `buildah bud` + push + `ctr import` of the same. Suite and baseline take turns.
On a machine that cannot run containers `cluster.up` fails in one line: no figure is made.
"""

from __future__ import annotations

import contextlib
import shutil
import tempfile
import time
from pathlib import Path

from bench import noderaw, scenarios, scratch
from bench.scenarios import DEPLOY, Samples, Slot, _append, _line
from bench.workspace import BenchError, Workspace, say, timed

CLUSTER = "bench-node"  # short: the containerd socket's path must stay under 100 bytes
TELEMETRY = Path("services/telemetry")
EDITED = TELEMETRY / "src/telemetry/__init__.py"  # the one-line change: a comment appended
PYTHON_BASE = "localhost/gitops-lab/python"
KEYS = (
    "node_up_fresh",
    "node_up",
    "node_down",
    "node_image_build_cold",
    "node_image_build_warm",
    "node_deploy_fresh_cluster",
    "node_deploy_first",
    "node_raw_deploy",
    "node_deploy_noop",
    "node_noop_floor",
    "node_image_rebuild",
    "node_image_raw",
)


class NodeUnavailable(BenchError):
    """This machine cannot run the real node (the suite's one-line reason)."""


def workspace(root: Path) -> Workspace:
    """A scratch copy for the real-node cluster: node `real` (a machine that cannot is an
    error, never a quiet fallback to simulated nodes), one simulated node for the api."""
    ws = Workspace(root / "repo", CLUSTER, root / "age" / "keys.txt")
    ws.env["OPSKIT_KWOK_NODE"] = "real"
    return ws


def setup(ws: Workspace, checkout: Path) -> None:
    ws.repo.mkdir(parents=True)
    count = scratch.copy_checkout(checkout, ws.repo)
    scratch.compile_bytecode(ws.repo)
    data = scratch.configure(scratch.load_config(ws.repo), ws.cluster, nodes=1, node="real")
    scratch.save_config(ws.repo, data)
    scratch.commit_all(ws.repo, "bench: scratch copy (real node)")
    say(f"node: {count} files copied to {ws.repo}")


def slots(runs: int) -> tuple[list[Slot], list[Slot]]:
    """A fresh namespace for each first deploy (+1 warm-up each for suite and raw)."""

    def slot(name: str) -> Slot:
        return Slot(f"bench-node-{name}", f"gitops-lab-bn-{name}")

    return [slot(f"inv{i}") for i in range(runs + 1)], [slot(f"raw{i}") for i in range(runs + 1)]


def up(ws: Workspace, first: bool = False) -> float:
    try:
        return timed(lambda: ws.invoke("cluster.up", "--provider", "kwok", "--name", ws.cluster))
    except BenchError as exc:
        if not first:
            raise
        lines = str(exc).strip().splitlines()
        reason = next((ln for ln in reversed(lines) if "real" in ln), lines[-1])
        raise NodeUnavailable(f"`invoke cluster.up` with a real node failed: {reason}") from None


def down(ws: Workspace) -> float:
    return timed(lambda: ws.invoke("cluster.down", "--provider", "kwok", "--name", ws.cluster))


def measure(ws: Workspace, runs: int, prepare, samples: Samples, notes: list[str]) -> None:
    """Every figure of the scenario; the cluster is down at the end whatever happened.
    `prepare(ws, slots)`: the generated overlays (bench.__main__.prepare)."""
    suite, baseline = slots(runs)
    prepare(ws, [*suite, *baseline])
    try:
        _append(samples, "node_up_fresh", up(ws, first=True))
        say(f"node: cluster.up, fresh state folder: {samples['node_up_fresh'][-1]:.1f}s")
        for _ in range(runs):
            _append(samples, "node_down", down(ws))
            _append(samples, "node_up", up(ws))
        say("node: " + _line(samples, ("node_up", "node_down")))
        parts = (
            ("image builds", lambda: image_builds(ws, runs, samples, notes)),
            ("deploys", lambda: deploys(ws, suite, baseline, samples)),
            ("image rebuilds", lambda: image_rebuilds(ws, runs, samples)),
        )
        for name, part in parts:  # a failed part is noted, the others still run
            try:
                part()
            except BenchError as exc:
                lines = str(exc).strip().splitlines()
                notes.append(f"node: {name} not measured: {lines[0]} ... {lines[-1]}")
                say(f"node: {name} FAILED: {exc}")
    finally:
        _append(samples, "node_down", down(ws))
        _forget_images(ws)


def _fake_nodes_and_volumes(ws: Workspace) -> tuple[str, Path]:
    node = f"{ws.cluster}-real"
    home = ws.repo / ".opskit" / "clusters" / ws.context / "node"
    return node, home


def image_builds(ws: Workspace, runs: int, samples: Samples, notes: list[str]) -> None:
    """`invoke image.build` into an empty buildah store (a temporary one: the Debian base by
    mmdebstrap, the Python base, telemetry with its pip install), then again (warm)."""
    with tempfile.TemporaryDirectory(prefix="bench-store-", ignore_cleanup_errors=True) as folder:
        conf = Path(folder) / "storage.conf"
        conf.write_text(storage_conf(Path(folder)))
        saved = ws.env.get("CONTAINERS_STORAGE_CONF")
        ws.env["CONTAINERS_STORAGE_CONF"] = str(conf)
        try:
            _append(samples, "node_image_build_cold", timed(lambda: ws.invoke("image.build")))
            for _ in range(runs):
                _append(samples, "node_image_build_warm", timed(lambda: ws.invoke("image.build")))
        finally:
            if saved is None:
                ws.env.pop("CONTAINERS_STORAGE_CONF")
            else:
                ws.env["CONTAINERS_STORAGE_CONF"] = saved
            # the temporary store named explicitly: never the machine's own
            store = ("--root", str(Path(folder) / "root"), "--runroot", str(Path(folder) / "run"))
            ws.tool("buildah", *store, "rm", "--all")
            ws.tool("buildah", *store, "rmi", "--all", "--force")
    notes.append(
        "node: the cold image build is `invoke image.build` into an empty buildah store (Debian "
        "base by mmdebstrap, Python base, telemetry); the stand-ins (built by the first deploy "
        "when missing) and the tools' cold builds (Go, `invoke tools.install`) were not timed"
    )
    say("node: " + _line(samples, ("node_image_build",)))


def storage_conf(folder: Path) -> str:
    """containers-storage.conf(5) for a temporary, empty store below `folder`."""
    return (
        "[storage]\n"
        'driver = "overlay"\n'
        f'graphroot = "{folder / "root"}"\n'
        f'runroot = "{folder / "run"}"\n'
    )


def deploys(ws: Workspace, suite: list[Slot], baseline: list[Slot], samples: Samples) -> None:
    """The dev overlay's first deploy to Ready real pods, suite and raw each into a fresh
    namespace (the images are in the node after the warm-ups), no-ops beside their floor;
    each round's namespaces go before the next (not timed)."""
    node, home = _fake_nodes_and_volumes(ws)
    raw_deploy = noderaw.NodeRawDeploy(
        tuple(i["repository"] for i in scratch.load_config(ws.repo)["images"].values()),
        set(ws.kubectl("api-versions").split()),
        (ws.repo / "k8s/components/embedded-standins",),
        home / "volumes",
        node,
    )
    # the cluster's first deploy: builds the stand-ins and telemetry if buildah lacks them
    # and loads every image into the node's containerd
    _append(samples, "node_deploy_fresh_cluster", timed(lambda: ws.invoke(*DEPLOY, suite[0].name)))
    raw_deploy(ws, baseline[0])
    _drop(ws, suite[0], baseline[0])
    say(
        f"node: first deploy into the fresh cluster {samples['node_deploy_fresh_cluster'][-1]:.1f}s"
    )
    keys = ("node_deploy_noop", "node_noop_floor")
    for index, (mine, theirs) in enumerate(zip(suite[1:], baseline[1:], strict=True)):

        def ours(slot=mine):
            _append(samples, "node_deploy_first", timed(lambda: ws.invoke(*DEPLOY, slot.name)))
            scenarios._noops(ws, slot, raw_deploy, samples, keys)

        def raws(slot=theirs):
            _append(samples, "node_raw_deploy", timed(lambda: raw_deploy(ws, slot)))

        for step in (ours, raws) if index % 2 == 0 else (raws, ours):
            step()
        _drop(ws, mine, theirs)
        say(f"node: deploy round {index + 1}/{len(suite) - 1}: " + _line(samples, "node_d", True))


def _drop(ws: Workspace, *done: Slot) -> None:
    """The namespaces of a round, gone before the next round (its real pods stopped)."""
    names = [s.namespace for s in done]
    ws.kubectl("delete", "namespace", *names, "--wait=true", "--timeout=300s")


def image_rebuilds(ws: Workspace, runs: int, samples: Samples) -> None:
    """A one-line change to the telemetry source (committed: the tag is the commit), then
    `invoke image.build` + `invoke image.load` of telemetry, against a by-hand `buildah bud`
    + push + `ctr import` after another one-line change; one warm-up each."""
    data = scratch.load_config(ws.repo)
    repository = data["images"]["telemetry"]["repository"]
    base = _python_base(ws)
    socket = _fake_nodes_and_volumes(ws)[1] / "containerd" / "containerd.sock"
    with tempfile.TemporaryDirectory(prefix="bench-raw-image-") as work:

        def ours() -> float:
            return timed(
                lambda: (
                    ws.invoke("image.build", "--image", "telemetry"),
                    ws.invoke("image.load", "--image", "telemetry"),
                )
            )

        def raws() -> float:
            return timed(
                lambda: noderaw.image_rebuild(
                    ws, repository, ws.repo / TELEMETRY, base, socket, Path(work)
                )
            )

        for index in range(runs + 1):
            pair = [("node_image_rebuild", ours), ("node_image_raw", raws)]
            for key, action in pair if index % 2 == 0 else reversed(pair):
                edit(ws.repo / EDITED, f"{key} {index}")
                scratch.commit_all(ws.repo, f"bench: a one-line change ({key} {index})")
                seconds = action()
                if index:  # the first of each warms the page cache and buildah's lookups
                    _append(samples, key, seconds)
    say("node: " + _line(samples, ("node_image_rebuild", "node_image_raw")))


def edit(path: Path, what: str) -> None:
    """One line appended: a comment naming the change (a new layer from `COPY src` on)."""
    path.write_text(path.read_text() + f"# bench: {what}\n")


def _python_base(ws: Workspace) -> str:
    """The local Python base the suite built, the newest if several (a person would know
    its tag)."""
    listed = ws.tool("buildah", "images", "--format", "{{.Name}}:{{.Tag}}")  # newest first
    found = [line for line in listed.split() if line.startswith(PYTHON_BASE + ":")]
    if not found:
        raise BenchError(f"no {PYTHON_BASE} image in buildah's store (image.build makes it)")
    return found[0]


def _forget_images(ws: Workspace) -> None:
    """Untag the images the scratch commits made in buildah's store (best effort)."""
    log = ws.tool("git", "log", "--format=%h", "--abbrev=12")
    data = scratch.load_config(ws.repo)
    tags = [f"{i['repository']}:{sha}" for i in data["images"].values() for sha in log.split()]
    for tag in tags:
        with contextlib.suppress(BenchError):  # never built (the api's) or already gone
            ws.tool("buildah", "rmi", tag)


def run(root: Path, checkout: Path, runs: int, prepare, samples: Samples, notes: list[str]):
    """Set up the scratch copy, measure, remove the copy (the cluster is down already)."""
    ws = workspace(root)
    started = time.monotonic()
    try:
        setup(ws, checkout)
        measure(ws, runs, prepare, samples, notes)
    finally:
        shutil.rmtree(root, ignore_errors=True)
    say(f"node: done in {time.monotonic() - started:.0f}s")
