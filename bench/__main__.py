"""`python -m bench`: measure the suite against the raw tools on a kwok cluster of its own.

Works in a scratch copy of the repository (own cluster name, age key, generated overlays),
tears everything down at the end and writes bench/results.json and bench/results.md.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import shutil
import signal
import sys
import tempfile
import time
from pathlib import Path

from bench import gitops, node, peers, report, results, scenarios, scratch
from bench.scenarios import DEPLOY, Slot
from bench.workspace import BenchError, Workspace, say

HERE = Path(__file__).resolve().parent
CHECKOUT = HERE.parent
CLUSTER = "gitops-lab-bench"
SCENARIOS = (
    "startup",
    "validate",
    "diff",
    "deploy",
    "devloop",
    "growth",
    "gitops",
    "gitops-node",
    "node",
)
# scenarios with a cluster of their own (the real node's), measured after the kwok
# scenarios' cluster is down: an idle second control plane is load on a 2-core machine
NODE_ONLY = ("gitops-node", "node")
SIZES = (1, 4, 8, 16, 32)  # 8: so the shape is judged on two steps past the start
VOLUMES = 64  # one claim per generated overlay (postgres)
DEFAULT_POLL_SAMPLES = 5


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):
        """Bad input: one line and exit 1 (argparse's own is usage + exit 2)."""
        self.exit(1, f"{self.prog}: error: {message}\n")


def _samples(text: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"'{text}' is not a number of samples (1 or more)")
    return int(text)


def parse(argv: list[str]) -> argparse.Namespace:
    parser = _Parser(prog="python -m bench", description=__doc__)
    parser.add_argument("--runs", type=int, default=5, help="runs per figure (default 5)")
    parser.add_argument(
        "--growth-runs",
        type=int,
        default=3,
        help="deploys per size in the growth figures (default 3)",
    )
    parser.add_argument("--cluster", default=CLUSTER, help=f"kwok cluster name ({CLUSTER})")
    parser.add_argument("--out", type=Path, default=HERE, help="folder for results.{json,md}")
    parser.add_argument(
        "--keep",
        action="store_true",
        help="keep the scratch repository and its cluster (prints where)",
    )
    parser.add_argument(
        "--only",
        choices=SCENARIOS,
        action="append",
        help="run only this scenario (repeatable; default: all)",
    )
    parser.add_argument("--strict", action="store_true", help="exit 1 when a target is NOT MET")
    parser.add_argument(
        "--default-poll",
        nargs="?",
        const=DEFAULT_POLL_SAMPLES,
        default=0,
        type=_samples,
        metavar="N",
        help="gitops: also commit -> Synced/Healthy under ArgoCD's default polling, N samples "
        f"(default {DEFAULT_POLL_SAMPLES}; opt-in: about 10 minutes whatever N)",
    )
    parser.add_argument(
        "--report-only",
        action="store_true",
        help="rebuild results.{json,md} from the samples in results.json (no cluster)",
    )
    parser.add_argument(
        "--peers",
        action="store_true",
        help="also measure Skaffold (`invoke tools.install --only=peers`) beside invoke deploy",
    )
    args = parser.parse_args(argv)
    if args.default_poll and args.only and "gitops" not in args.only:
        parser.error("--default-poll measures in the gitops scenario: add `--only gitops`")
    return args


def plan_slots(
    runs: int, growth_runs: int
) -> tuple[list[Slot], list[Slot], list[list[tuple[Slot, Slot]]]]:
    """Overlays to generate: one per first deploy, so every first deploy meets a fresh
    namespace (+1 warm-up each for suite and raw)."""

    def slot(name: str, count: int = 1) -> Slot:
        return Slot(f"bench-{name}", f"gitops-lab-bench-{name}", count)

    suite = [slot(f"inv{i}") for i in range(runs + 1)]
    baseline = [slot(f"raw{i}") for i in range(runs + 1)]
    rounds = [
        [(slot(f"g{n}r{r}", n), slot(f"g{n}raw{r}", n)) for n in SIZES]
        for r in range(1, growth_runs + 1)
    ]
    return suite, baseline, rounds


def prepare(ws: Workspace, all_slots: list[Slot]) -> None:
    """Generate the overlays, encrypt their Secrets with the bench key, issue their certs."""
    data = scratch.load_config(ws.repo)
    for slot in all_slots:
        scratch.add_overlay(ws.repo, data, slot.name, slot.namespace, slot.app_count)
    scratch.save_config(ws.repo, data)
    started = time.monotonic()
    for slot in all_slots:
        ws.invoke("secrets.init", "--overlay", slot.name)
        ws.invoke("certs.issue", "--overlay", slot.name)
    scratch.commit_all(ws.repo, f"bench: {len(all_slots)} generated overlays")
    say(
        f"{len(all_slots)} overlays generated, Secrets encrypted, certificates issued "
        f"({time.monotonic() - started:.0f}s)"
    )


def measure(ws: Workspace, args: argparse.Namespace, notes: list[str]) -> dict:
    """Every figure; a failing one is noted and the others still run."""
    samples: dict[str, list[float]] = {}
    real = [ws.repo / "k8s/overlays" / name for name in ("dev", "prod")]
    suite, baseline, rounds = plan_slots(args.runs, args.growth_runs)
    loop = tuple(Slot(f"bench-{n}", f"gitops-lab-bench-{n}") for n in ("loop", "hand"))
    wanted = set(args.only or SCENARIOS) | ({"peers"} if args.peers else set())

    def attempt(scenario: str, title: str, action) -> None:
        if scenario not in wanted:
            return
        say(title)
        try:
            action()
        except BenchError as exc:
            notes.append(f"{scenario} not measured: {_gist(exc)}")
            say(f"{scenario} FAILED: {exc}")

    attempt(
        "startup",
        "start-up: invoke --list, invoke doctor, python -c pass",
        lambda: scenarios.startup(ws, args.runs, notes, samples),
    )
    attempt(
        "validate",
        "validate: invoke manifests.validate vs kubectl kustomize (dev, prod)",
        lambda: scenarios.validate(ws, real, args.runs, samples),
    )
    attempt(
        "diff",
        "offline diff: invoke manifests.diff of two commits vs kubectl kustomize once each",
        lambda: scenarios.offline_diff(ws, real, args.runs, samples),
    )
    say("preparing generated overlays (fresh namespaces)")
    slots = [*suite, *baseline] if wanted & {"deploy", "growth"} else []
    slots += list(loop) if "devloop" in wanted else []
    slots += [s for r in rounds for pair in r for s in pair] if "growth" in wanted else []
    peer_pairs = (
        [
            (
                Slot(f"bench-pinv{i}", f"gitops-lab-bench-pinv{i}"),
                Slot(f"bench-pskf{i}", f"gitops-lab-bench-pskf{i}"),
            )
            for i in range(args.runs)
        ]
        if args.peers
        else []
    )
    slots += [s for pair in peer_pairs for s in pair]
    try:
        prepare(ws, slots)
    except BenchError as exc:
        notes.append(f"deploy figures not measured: {_gist(exc)}")
        say(f"prepare FAILED: {exc}")
        return samples
    raw_deploy = scenarios.RawDeploy(
        tuple(i["repository"] for i in scratch.load_config(ws.repo)["images"].values()),
        set(ws.kubectl("api-versions").split()),
    )
    attempt(
        "deploy",
        "warm-up deploys (not counted)",
        lambda: _warm_up(ws, suite[0], baseline[0], raw_deploy),
    )
    attempt(
        "deploy",
        f"deploy: first + no-op (invoke) vs raw commands, {args.runs} rounds",
        lambda: scenarios.deploys(ws, suite[1:], baseline[1:], raw_deploy, samples),
    )
    attempt(
        "devloop",
        f"dev loop: save -> rolled out vs a one-line change deployed by hand, {args.runs} edits",
        lambda: scenarios.dev_loop(ws, *loop, args.runs, samples),
    )
    attempt(
        "growth",
        f"growth: {', '.join(map(str, SIZES))} app Deployments, {args.growth_runs} rounds",
        lambda: scenarios.growth(ws, rounds, args.runs, raw_deploy, samples),
    )
    attempt(
        "peers",
        f"peers: invoke deploy vs Skaffold v2.19 (first deploy, no-op), {args.runs} rounds",
        lambda: peers.measure(ws, peer_pairs, raw_deploy, samples, notes),
    )
    attempt(
        "gitops",
        "gitops: commit -> Synced/Healthy through ArgoCD, and a no-op argocd.install",
        lambda: gitops.measure(ws, args.runs, samples),
    )
    if args.default_poll:
        attempt(
            "gitops",
            "gitops: commit -> Synced/Healthy under ArgoCD's default polling",
            lambda: gitops.measure_default_poll(ws, args.default_poll, samples),
        )
    return samples


def _on_real_node(args: argparse.Namespace, samples: dict, notes: list[str]) -> None:
    """The gitops figures with real pods, on a real-node cluster of their own."""
    say("gitops-node: commit -> Synced/Healthy with ArgoCD and the overlay as real pods")
    node = gitops.node_workspace(args.cluster)
    try:
        gitops.measure_node(node, args.runs, samples)
    except BenchError as exc:
        notes.append(f"gitops-node not measured: {_gist(exc)}")
        say(f"gitops-node FAILED: {exc}")
    finally:
        if args.keep:
            say(f"kept: {node.repo} (cluster {node.context}); `invoke cluster.down` there")
        else:
            gitops.teardown_node(node)


def _on_node(args: argparse.Namespace, samples: dict, notes: list[str], only: bool) -> bool:
    """The real node's figures; False (with a one-line error) when the machine cannot run
    the node and they were all that was asked for."""
    try:
        node_root = Path(tempfile.mkdtemp(prefix="glb-"))  # short: containerd's socket
        node.run(node_root, CHECKOUT, args.runs, prepare, samples, notes)
    except node.NodeUnavailable as exc:
        if only:
            print(f"python -m bench: error: node not measured: {exc}", file=sys.stderr)
            return False
        notes.append(f"node not measured: {_gist(exc)}")
        say(f"node FAILED: {exc}")
    except BenchError as exc:
        notes.append(f"node not measured in full: {_gist(exc)}")
        say(f"node FAILED: {exc}")
    return True


def _gist(exc: Exception) -> str:
    """The command and its last line of output: a one-line note for results.md."""
    lines = str(exc).strip().splitlines()
    return lines[0] + (f" ... {lines[-1]}" if len(lines) > 1 else "")


def _warm_up(ws: Workspace, mine: Slot, theirs: Slot, raw_deploy) -> None:
    ws.invoke(*DEPLOY, mine.name)
    raw_deploy(ws, theirs)


def meta(args: argparse.Namespace, ws: Workspace, took: float) -> dict:
    commit = scratch.head(CHECKOUT)
    return {
        "date": datetime.datetime.now().astimezone().isoformat(timespec="seconds"),
        "host": platform.node(),
        "python": platform.python_version(),
        "cpus": os.cpu_count(),
        "commit": commit,
        "cluster": ws.context,
        "runs": args.runs,
        "growth_runs": args.growth_runs,
        "sizes": list(SIZES),
        "took_seconds": round(took, 1),
    }


def write(args: argparse.Namespace, document: dict) -> None:
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "results.json").write_text(report.to_json(document))
    markdown = report.to_markdown(document)
    (args.out / "results.md").write_text(markdown)
    print(markdown)
    say(f"wrote {args.out / 'results.json'} and {args.out / 'results.md'}")


def _stop(signum, _frame) -> None:
    raise SystemExit(128 + signum)  # so `finally` tears the cluster down


def main(argv: list[str]) -> int:
    args = parse(argv)
    if args.report_only:
        return _report_only(args)
    signal.signal(signal.SIGTERM, _stop)
    started = time.monotonic()
    tmp = Path(tempfile.mkdtemp(prefix="gitops-lab-bench-"))
    ws = Workspace(tmp / "repo", args.cluster, tmp / "age" / "keys.txt")
    notes: list[str] = []
    samples: dict[str, list[float]] = {}
    wanted = set(args.only or SCENARIOS)
    if wanted - set(NODE_ONLY):
        try:
            _setup(ws)
            samples = measure(ws, args, notes)
        except BenchError as exc:
            notes.append(f"setup failed: {_gist(exc)}")
            say(f"FAILED: {exc}")
        finally:
            _teardown(ws, tmp, args.keep)
    if "gitops-node" in wanted:
        _on_real_node(args, samples, notes)
    if "node" in wanted and not _on_node(args, samples, notes, only=wanted == {"node"}):
        shutil.rmtree(tmp, ignore_errors=True)  # nothing measured: the committed results stay
        return 1
    if not wanted - set(NODE_ONLY):
        shutil.rmtree(tmp, ignore_errors=True)  # no kwok scratch copy was made
    run_meta = meta(args, ws, time.monotonic() - started)
    if args.only:  # the figures of the other scenarios stay from the committed run
        samples, run_meta, notes = results.merge(
            _previous(args.out), samples, run_meta, notes, sorted(wanted)
        )
    document = results.build(samples, run_meta, notes)
    write(args, document)
    say(f"done in {time.monotonic() - started:.0f}s; {verdict(document['targets'])}")
    missed = [t for t in document["targets"] if t["status"] != "met"]
    return 1 if missed and args.strict else 0


def verdict(targets: list[dict]) -> str:
    """One line: the targets not met, then those not measured (a partial run has many)."""
    parts = []
    for status in ("NOT MET", "NOT MEASURED"):
        names = [t["name"] for t in targets if t["status"] == status]
        if names:
            parts.append(f"{len(names)} {status}: {'; '.join(names)}")
    return ". ".join(parts) if parts else "every target met"


def _previous(out: Path) -> dict | None:
    try:
        return json.loads((out / "results.json").read_text())
    except (OSError, ValueError):
        return None


def _report_only(args: argparse.Namespace) -> int:
    previous = json.loads((args.out / "results.json").read_text())
    samples = {k: m["samples"] for k, m in previous["measurements"].items()}
    write(args, results.build(samples, previous["meta"], previous.get("notes", [])))
    return 0


def _setup(ws: Workspace) -> None:
    say(f"scratch repository {ws.repo}")
    ws.repo.mkdir(parents=True)
    count = scratch.copy_checkout(CHECKOUT, ws.repo)
    scratch.compile_bytecode(ws.repo)  # the opskit every `invoke` of the bench imports
    scratch.save_config(ws.repo, scratch.configure(scratch.load_config(ws.repo), ws.cluster))
    scratch.commit_all(ws.repo, "bench: scratch copy")
    say(f"{count} files copied; starting kwok cluster {ws.cluster}")
    started = time.monotonic()
    ws.invoke("cluster.up", "--provider", "kwok", "--name", ws.cluster)
    say(f"cluster {ws.context} up in {time.monotonic() - started:.1f}s")
    ws.kubectl("apply", "-f", "-", stdin=scratch.volume_pool(VOLUMES))  # kwok: no provisioner


def _teardown(ws: Workspace, tmp: Path, keep: bool) -> None:
    if keep:
        say(f"kept: {ws.repo} (cluster {ws.context}); remove with `invoke cluster.down` there")
        return
    say(f"tearing down cluster {ws.cluster}")
    try:
        ws.invoke("cluster.down", "--provider", "kwok", "--name", ws.cluster)
    except BenchError as exc:
        say(f"cluster.down failed: {exc}")
    shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
