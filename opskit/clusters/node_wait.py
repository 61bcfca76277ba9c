"""Waits that follow progress instead of a fixed clock: they go on while something moves
(a node's conditions change, a daemon's log grows) and give up after a stretch with no
progress, naming the node's conditions and the daemon's last log line."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, NoReturn

from opskit.clusters.daemons import last_line
from opskit.core.errors import OpsError

if TYPE_CHECKING:
    from pathlib import Path

    from opskit.clusters.daemons import Supervisor
    from opskit.kube.kubectl import Kube

IDLE = 90.0  # seconds without any progress before a wait gives up
CEILING = 900.0  # and never longer than this in all


def until(
    done: Callable[[], bool],
    progress: Callable[[], object],
    give_up: Callable[[str], NoReturn],
    every: float = 0.5,
) -> None:
    """Poll `done` while `progress()` keeps changing; `give_up(why)` after IDLE seconds
    without a change (or CEILING in all)."""
    started = last_move = time.monotonic()
    seen: object = None
    while not done():
        state, now = progress(), time.monotonic()
        if state != seen:
            seen, last_move = state, now
        if now - last_move > IDLE or now - started > CEILING:
            give_up(f"no progress for {now - last_move:.0f}s")
        time.sleep(every)


def log_sizes(*files: Path) -> tuple[int, ...]:
    """The sizes of some log files: a daemon that still writes is still getting somewhere."""
    sizes = []
    for file in files:
        try:
            sizes.append(file.stat().st_size)
        except OSError:
            sizes.append(-1)
    return tuple(sizes)


def _conditions(kube: Kube, names: list[str] | None, selector: str) -> dict[str, str]:
    """node -> "Ready=True" style summary of its conditions ("" when unknown)."""
    target = ["node", *names] if names else ["nodes", "-l", selector]
    result = kube.run("get", *target, "-o", "json", check=False, timeout=20)
    if result.returncode != 0:
        return {}
    data = json.loads(result.stdout or "{}")
    items = data.get("items", [data]) if data.get("kind") != "Node" else [data]
    summary = {}
    for item in items:
        conditions = item.get("status", {}).get("conditions", [])
        parts = [
            f"{c['type']}={c['status']}"
            + (
                f" ({c.get('reason')}: {c.get('message', '')[:120]})"
                if c["type"] == "Ready" and c["status"] != "True"
                else ""
            )
            for c in conditions
        ]
        summary[item["metadata"]["name"]] = ", ".join(parts)
    return summary


def nodes_ready(
    kube: Kube,
    names: list[str] | None,
    daemons: Supervisor | None,
    component: str,
    report,
    selector: str = "",
    log: Path | None = None,
) -> None:
    """Until every named node (or every node matching `selector`) is Ready. Progress: the
    nodes' conditions and the log of `component` (its daemon's, else `log`)."""
    logfile = daemons.logfile(component) if daemons is not None else log
    started = last_move = time.monotonic()
    seen: tuple = ()
    while True:
        summary = _conditions(kube, names, selector)
        wanted = names or list(summary)
        if wanted and all("Ready=True" in summary.get(n, "") for n in wanted):
            return
        state = (tuple(sorted(summary.items())), log_sizes(*([logfile] if logfile else [])))
        if state != seen:
            seen, last_move = state, time.monotonic()
        now = time.monotonic()
        if daemons is not None and daemons.exited(component):
            _fail(f"{component} exited", summary, logfile, component)
        if now - last_move > IDLE or now - started > CEILING:
            _fail(f"no progress for {now - last_move:.0f}s", summary, logfile, component)
        time.sleep(0.5)


def _fail(why: str, summary: dict[str, str], log: Path | None, component: str) -> NoReturn:
    nodes = (
        "; ".join(f"{n}: {c or 'no conditions yet'}" for n, c in summary.items())
        or "no node registered"
    )
    last = f"; {component}'s last log line: {last_line(log)}" if log else ""
    hint = f"see {log}" if log else "see `kubectl describe nodes`"
    raise OpsError(f"node not Ready ({why}): {nodes}{last}", hint)


def rollout(kube: Kube, namespace: str, workload: str, daemons: Supervisor | None, report) -> None:
    """Until `workload` has rolled out: while its pods or the kubelet's log change (a busy
    machine is slow, not stuck); without progress, the pods and the kubelet's last line."""

    def done() -> bool:
        argv = ("rollout", "status", workload, "-n", namespace, "--timeout=5s")
        return kube.run(*argv, check=False, timeout=30).returncode == 0

    def progress() -> object:
        pods = kube.run("get", "pods", "-n", namespace, "-o", "wide", check=False, timeout=20)
        return pods.stdout, log_sizes(*([daemons.logfile("kubelet")] if daemons else []))

    def give_up(why: str) -> NoReturn:
        pods = kube.run("get", "pods", "-n", namespace, "-o", "wide", check=False, timeout=20)
        last = daemons.last_line("kubelet") if daemons else ""
        raise OpsError(
            f"{workload} in {namespace} did not roll out ({why}); kubelet's last log line: {last}",
            f"look at: {pods.stdout.strip()[-300:] or 'kubectl get pods -n ' + namespace}",
        )

    until(done, progress, give_up, every=1.0)
