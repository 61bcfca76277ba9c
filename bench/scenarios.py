"""The measurements: each returns {key: samples} for its figures, suite and baseline side by
side (interleaved, alternating which goes first, so drift hits both alike)."""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from pathlib import Path

from bench import raw
from bench.background import Running
from bench.workspace import BenchError, Workspace, program, say, timed

Samples = dict[str, list[float]]
DEPLOY = ("deploy", "--timeout=120", "--overlay")  # fail fast, the same pipeline
STARTUP = ("python_pass", "invoke_list", "invoke_doctor")
DEPLOYS = ("deploy_first", "deploy_noop", "noop_floor", "raw_deploy")


@dataclass(frozen=True)
class Slot:
    """A generated overlay with its own namespace: one first deploy each."""

    name: str
    namespace: str
    app_count: int = 1

    def path(self, ws: Workspace) -> Path:
        return ws.repo / "k8s" / "overlays" / self.name


def _append(samples: Samples, key: str, seconds: float) -> None:
    samples.setdefault(key, []).append(seconds)


def startup(ws: Workspace, runs: int, notes: list[str], samples: Samples) -> None:
    """`invoke --list` and `invoke doctor` against `python -c pass`; a command that fails
    its warm-up run is left out (and noted), the others are still measured."""
    commands = {
        "python_pass": lambda: ws.tool("python", "-c", "pass"),
        "invoke_list": lambda: ws.invoke("--list"),
        "invoke_doctor": lambda: ws.invoke("doctor", ok=(0, 1)),
    }
    for key, command in list(commands.items()):
        try:
            command()  # warm the page cache and .pyc files
        except BenchError as exc:
            notes.append(f"{key} not measured: {str(exc).splitlines()[-1]}")
            say(f"{key} FAILED: {exc}")
            del commands[key]
    for index in range(runs):
        order = list(commands.items())
        for key, command in order if index % 2 == 0 else reversed(order):
            _append(samples, key, timed(command))
    say(_line(samples, STARTUP))


def validate(ws: Workspace, overlay_paths: list[Path], runs: int, samples: Samples) -> None:
    """`invoke manifests.validate` (every overlay + k8s/argocd) against `kubectl kustomize`
    of the same overlays, one after the other."""
    ws.invoke("manifests.validate")
    raw.render_all(ws, overlay_paths)
    for index in range(runs):
        pair = [
            ("validate_all", lambda: ws.invoke("manifests.validate")),
            ("raw_render_all", lambda: raw.render_all(ws, overlay_paths)),
        ]
        for key, command in pair if index % 2 == 0 else reversed(pair):
            _append(samples, key, timed(command))
    say(_line(samples, ("validate_all", "raw_render_all")))


def offline_diff(ws: Workspace, overlay_paths: list[Path], runs: int, samples: Samples) -> None:
    """`invoke manifests.diff` of every overlay + k8s/argocd between two commits (dev's
    replicas and image tag changed) against one `kubectl kustomize` of each overlay."""
    from bench import scratch

    kustomization = ws.repo / "k8s/overlays/dev/kustomization.yaml"
    original = kustomization.read_text()
    base = scratch.commit_all(ws.repo, "bench: before the change to diff")
    kustomization.write_text(
        original.replace('"000000000000"', '"0123456789ab"')
        + "replicas:\n  - name: api\n    count: 2\n"
    )
    scratch.commit_all(ws.repo, "bench: a change to diff")
    command = ("manifests.diff", f"--base={base}", "--head=HEAD")
    try:
        shown = ws.invoke(*command, ok=(1,))  # warm-up; exit 1: there are changes
        if "dev/Deployment/api: changed\n" not in shown:  # objects come in name order
            raise BenchError(f"manifests.diff did not show the change: {shown[:200]!r}")
        for index in range(runs):
            pair = [
                ("diff_commits", lambda: ws.invoke(*command, ok=(1,))),
                ("diff_raw_render", lambda: raw.render_all(ws, overlay_paths)),
            ]
            for key, action in pair if index % 2 == 0 else reversed(pair):
                _append(samples, key, timed(action))
    finally:
        kustomization.write_text(original)
        scratch.commit_all(ws.repo, "bench: undo the change to diff")
    say(_line(samples, ("diff_commits", "diff_raw_render")))


@dataclass(frozen=True)
class RawDeploy:
    images: tuple[str, ...]  # the repositories of opskit.yaml's images:
    served: set[str]

    def cert(self, ws: Workspace, slot: Slot) -> tuple[Path, Path] | None:
        folder = ws.repo / ".certs" / slot.name
        files = (folder / "cert.pem", folder / "key.pem")
        return files if all(f.is_file() for f in files) else None

    def __call__(self, ws: Workspace, slot: Slot) -> None:
        raw.deploy(ws, slot.path(ws), slot.namespace, self.images, self.served, self.cert(ws, slot))

    def payload(self, ws: Workspace, slot: Slot) -> str:
        return raw.payload(
            ws, slot.path(ws), slot.namespace, self.images, self.served, self.cert(ws, slot)
        )[0]


def deploys(
    ws: Workspace, suite: list[Slot], baseline: list[Slot], raw_deploy: RawDeploy, samples: Samples
) -> None:
    """First deploy to a fresh namespace and an immediate no-op redeploy, by the suite, and
    the raw commands to another fresh namespace."""
    for index, (mine, theirs) in enumerate(zip(suite, baseline, strict=True)):

        def ours(slot=mine):
            _append(samples, "deploy_first", timed(lambda: ws.invoke(*DEPLOY, slot.name)))
            _noops(ws, slot, raw_deploy, samples)

        def raws(slot=theirs):
            _append(samples, "raw_deploy", timed(lambda: raw_deploy(ws, slot)))

        for step in (ours, raws) if index % 2 == 0 else (raws, ours):
            step()
        say(f"deploy round {index + 1}/{len(suite)}: " + _line(samples, DEPLOYS, last=True))


NOOPS_PER_ROUND = 3  # no-op redeploys and floors, interleaved, after each first deploy


def _noops(
    ws: Workspace,
    slot: Slot,
    raw_deploy: RawDeploy,
    samples: Samples,
    keys: tuple[str, str] = ("deploy_noop", "noop_floor"),
) -> None:
    """No-op redeploys of a deployed slot, each beside its floor (raw.floor), taking turns;
    the floor's first apply (its managedFields entry) and the suite's answer to it are
    warm-ups."""
    text = raw_deploy.payload(ws, slot)
    raw.floor(ws, slot.path(ws), text)
    ws.invoke(*DEPLOY, slot.name)
    for index in range(NOOPS_PER_ROUND):
        pair = (
            lambda: _append(samples, keys[0], timed(lambda: ws.invoke(*DEPLOY, slot.name))),
            lambda: _append(samples, keys[1], raw.floor(ws, slot.path(ws), text)),
        )
        for step in pair if index % 2 == 0 else reversed(pair):
            step()


def growth(
    ws: Workspace,
    rounds: list[list[tuple[Slot, Slot]]],
    validate_runs: int,
    raw_deploy: RawDeploy,
    samples: Samples,
) -> None:
    """Deploy (fresh namespaces: suite and raw) and validate one overlay per size."""
    for number, pairs in enumerate(rounds, 1):
        for mine, theirs in pairs if number % 2 else reversed(pairs):
            n = mine.app_count
            _growth_deploy(ws, mine, samples)
            _append(samples, f"growth_raw_{n}", timed(lambda s=theirs: raw_deploy(ws, s)))
            for _ in range(validate_runs if number == 1 else 0):
                _append(
                    samples,
                    f"growth_validate_{n}",
                    timed(lambda s=mine: ws.invoke("manifests.validate", "--overlay", s.name)),
                )
                _append(
                    samples, f"growth_render_{n}", timed(lambda s=mine: raw.render(ws, s.path(ws)))
                )
        say(f"growth round {number}/{len(rounds)}: " + _line(samples, "growth_", last=True))


def _growth_deploy(ws: Workspace, slot: Slot, samples: Samples) -> None:
    """A first deploy of `slot`, its seconds split from its report: the cluster's part (the
    longest rollout wait: controllers and simulated pods) and the suite's own (the rest:
    start, plan, apply, the waiting loop's reads)."""
    import json
    import tempfile

    n = slot.app_count
    with tempfile.TemporaryDirectory(prefix="bench-report-") as folder:
        seconds = timed(lambda: ws.invoke(*DEPLOY, slot.name, f"--report={folder}"))
        report = json.loads((Path(folder) / "report.json").read_text())
    waits = [r.get("seconds") or 0.0 for r in report.get("rollouts", [])]
    wait = max(waits, default=0.0)
    _append(samples, f"growth_deploy_{n}", seconds)
    _append(samples, f"growth_wait_{n}", wait)
    _append(samples, f"growth_own_{n}", seconds - wait)


def _line(samples: Samples, prefix: str | tuple[str, ...] = "", last: bool = False) -> str:
    pick = (lambda v: v[-1]) if last else (lambda v: sorted(v)[len(v) // 2])
    return ", ".join(f"{k} {pick(v):.3f}s" for k, v in samples.items() if k.startswith(prefix))


def dev_loop(ws: Workspace, loop: Slot, by_hand: Slot, runs: int, samples: Samples) -> None:
    """Save -> rolled out: `invoke dev` running in the background against the same one-line
    ConfigMap change deployed by hand (`invoke deploy --allow-dirty`), each on an overlay of
    its own. By hand first: the loop would also pick up those saves."""
    command = (*DEPLOY[:2], "--allow-dirty", "--overlay", by_hand.name)
    ws.invoke(*command)  # the first deploy into its namespace: not counted
    for index in range(runs + 1):
        _save(ws, by_hand, index)
        seconds = timed(lambda: ws.invoke(*command))
        if index:  # the first one warms the render of the new tree shape
            _append(samples, "deploy_one_line", seconds)
    running = Running(program("invoke"), "dev", "--overlay", loop.name, cwd=ws.repo, env=ws.env)
    try:
        running.expect(r"^opskit: watching ", timeout=300)
        for index in range(runs + 1):
            saved = _save(ws, loop, index)
            arrived, line = running.expect(rf"^opskit: {loop.name} #\d+: ", timeout=180)
            if " -> applied: " not in line:
                raise BenchError(f"dev loop iteration failed: {line}\n{running.tail()}")
            if index:
                _append(samples, "devloop_save_to_ready", arrived - saved)
    except AssertionError as exc:  # an expected line did not come
        raise BenchError(str(exc)) from None
    finally:
        from bench import scratch

        code = running.interrupt()
        scratch.commit_all(ws.repo, "bench: the dev loop's edits")  # later deploys: a clean tree
    if code != 130:
        raise BenchError(f"`invoke dev` exited {code} on Ctrl-C, not 130:\n{running.tail()}")
    say(_line(samples, ("devloop_save_to_ready", "deploy_one_line")))


def _save(ws: Workspace, slot: Slot, index: int) -> float:
    """Change one value of the slot's ConfigMap patch; returns when the file was saved."""
    path = slot.path(ws) / "api-config.yaml"
    text = re.sub(r'POOL_SIZE: "?\d+"?', f'POOL_SIZE: "{20 + index}"', path.read_text())
    path.write_text(text)
    return time.time()
