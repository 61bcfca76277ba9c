"""`invoke dev`: deploy the working tree, then deploy it again on every save (the inner loop).

An iteration: the paths that changed -> with --test, the fast tests of that area -> the
deploy pipeline with the dirty tree allowed (tag `<sha>-dirty-<hash>`; render, validate,
apply, wait, restore on failure, exactly as `invoke deploy`) -> one status line. A failed
iteration is reported and the loop goes on. The overlay's deploy lock is held for the whole
loop: a second loop or a deploy of the same overlay to the same cluster is refused (the
deploys the loop runs take the same lock again; it is re-entrant).
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field

from opskit.clusters.connect import Connection
from opskit.core import shell
from opskit.core.config import Config, Overlay
from opskit.core.errors import CommandFailed, OpsError
from opskit.core.progress import Notify

FOLDERS = ("k8s", "app")  # the overlay's SOPS secrets are under k8s/overlays/<name>/secrets
FILES = ("opskit.yaml",)
OUTCOMES = ("changed", "created", "unchanged")  # opskit.deploy.restore.outcomes
# the fast tests of an area, run with this interpreter (--test)
FAST_TESTS = (
    ("k8s/", ("-m", "pytest", "tests/manifests", "-q", "-x", "-p", "no:cacheprovider")),
    (
        "opskit.yaml",
        ("-m", "pytest", "tests/unit/test_config.py", "tests/manifests", "-q", "-x"),
    ),
    ("app/", ("-m", "invoke", "lint.elixir")),
)
# deploy's progress lines that the status line sums up (shown with --verbose)
ROUTINE = re.compile(
    r"^(plan: |running: |url: |image \S+: not built|waiting for |nothing changed"
    r"|\S+ rolled out in )"
)


def status_line(label: str, changed: list[str], deployed, seconds: float, notes: list[str]) -> str:
    """`dev #2: k8s/x.yaml -> applied: 1 changed (ConfigMap/api-config), 16 unchanged;
    rolled out deployment/api; ready 1.20s after save` (deployed: opskit.deploy.Deployed)."""
    rolled = f"rolled out {', '.join(deployed.rolled_out)}" if deployed.rolled_out else "no rollout"
    ready = f"ready {seconds:.2f}s after {'save' if changed else 'start'}"
    parts = [f"applied: {_applied(deployed.objects)}", rolled, *notes, ready]
    return f"{label}: {describe(changed)} -> " + "; ".join(parts)


def _applied(objects: dict[str, str]) -> str:
    parts = []
    for outcome in OUTCOMES:
        refs = sorted(ref for ref, what in objects.items() if what == outcome)
        if refs:
            names = f" ({_sample(refs, 4)})" if outcome != "unchanged" else ""
            parts.append(f"{len(refs)} {outcome}{names}")
    return ", ".join(parts) or "nothing"


def describe(changed: list[str]) -> str:
    return _sample(changed, 3) if changed else "the working tree"


def _sample(items: list[str], most: int) -> str:
    more = f" +{len(items) - most} more" if len(items) > most else ""
    return ", ".join(items[:most]) + more


def saved_at(root, changed: list[str]) -> float:
    """When the newest of the changed files was written (now, when all were deleted)."""
    times = [os.stat(root / p).st_mtime for p in changed if (root / p).exists()]
    return max(times, default=time.time())


def fast_tests(changed: list[str]) -> list[tuple[str, ...]]:
    """The test commands (argv after the interpreter) for the areas the paths are in."""
    return [args for prefix, args in FAST_TESTS if any(p.startswith(prefix) for p in changed)]


@contextlib.contextmanager
def interrupts_deferred(notify: Notify) -> Iterator[None]:
    """A Ctrl-C during a deploy stops the loop once the deploy has finished (or restored);
    a second one stops at once."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    pending: list[int] = []

    def defer(signum, _frame) -> None:
        if pending:
            raise KeyboardInterrupt
        pending.append(signum)
        notify("stopping once this deploy is done (Ctrl-C again to stop now)")

    previous = signal.signal(signal.SIGINT, defer)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
    if pending:
        raise KeyboardInterrupt


@dataclass
class Loop:
    """One overlay's loop: what each iteration runs, and how it reports."""

    cfg: Config
    overlay: Overlay
    target: Connection
    timeout: float
    test: bool
    verbose: bool
    notify: Notify
    problem: Notify  # lines in the `overlay/Kind/name: path: message` format, as they are
    count: int = field(default=0, init=False)

    def iterate(self, changed: list[str], saved: float) -> bool:
        """Test (--test), deploy, report; False when it failed (the loop goes on)."""
        from opskit.deploy import pipeline

        label = f"{self.overlay.name} #{self.count}"
        self.count += 1
        with interrupts_deferred(self.notify):
            try:
                notes = self._run_tests(changed) + self._image_note(changed)
                done = pipeline.deploy(
                    self.cfg,
                    self.overlay.name,
                    context=self.target.context,
                    timeout=self.timeout,
                    allow_dirty=True,
                    notify=self._deploy_line,
                )
            except OpsError as exc:
                self._failed(label, changed, exc)
                return False
            self.notify(status_line(label, changed, done, time.time() - saved, notes))
        return True

    def _deploy_line(self, line: str) -> None:
        if self.verbose or not ROUTINE.match(line):
            self.notify(line)

    def _failed(self, label: str, changed: list[str], exc: OpsError) -> None:
        first, *rest = exc.message.splitlines() or [""]
        for line in rest:
            self.problem(line)
        if isinstance(exc, CommandFailed) and exc.stderr_tail:
            for line in exc.stderr_tail.splitlines():
                self.problem(f"  | {line}")
        hint = f"; {exc.hint}" if exc.hint else ""
        self.notify(f"{label}: {describe(changed)} -> FAILED: {first.rstrip(':')}{hint}")

    def _run_tests(self, changed: list[str]) -> list[str]:
        if not self.test:
            return []
        passed = []
        for args in fast_tests(changed):
            shown = " ".join(args[1:])
            started = time.monotonic()
            result = shell.run(
                [sys.executable, *args], cwd=str(self.cfg.root), timeout=900, check=False
            )
            if result.returncode != 0:
                tail = (result.stdout + result.stderr).strip().splitlines()[-15:]
                raise OpsError(
                    "\n".join([f"tests failed: `{shown}`, nothing applied:", *tail]),
                    "fix them and save again",
                )
            passed.append(f"tests passed: {shown} ({time.monotonic() - started:.1f}s)")
        return passed

    def _image_note(self, changed: list[str]) -> list[str]:
        contexts = [c for c in image_contexts(self.cfg) if any(p.startswith(c) for p in changed)]
        if not contexts:
            return []
        cluster = self.target.cluster  # the embedded cluster's real node runs them too
        if self.target.runs_containers or (cluster is not None and cluster.has_real_node()):
            return [f"image rebuilt and loaded ({', '.join(contexts)} changed)"]
        return [f"image build skipped: {self.target.context} runs no containers"]

    def relevant(self, batch: set[str]) -> list[str]:
        """The changed paths git does not ignore (build output under app/ does not count)."""
        paths = sorted(batch)
        result = shell.run(
            ["git", "-C", str(self.cfg.root), "check-ignore", "--stdin", "-z"],
            stdin="\0".join(paths),
            check=False,
            timeout=30,
        )
        skipped = set(result.stdout.split("\0")) if result.returncode == 0 else set()
        return [p for p in paths if p not in skipped]


def image_contexts(cfg: Config) -> list[str]:
    """The build contexts of the project's images (`app/`, `services/telemetry/`), as
    folder prefixes: a save below one rebuilds that image (the dirty tag changes)."""
    return sorted({cfg.images[name].context.strip("/") + "/" for name in cfg.images})


def watched(cfg: Config) -> tuple[str, ...]:
    """FOLDERS and each image's build context outside them (a change to the telemetry
    service's source is a save like one under app/)."""
    extra = [c.rstrip("/") for c in image_contexts(cfg) if c.split("/")[0] not in FOLDERS]
    return (*FOLDERS, *extra)


def run(
    cfg: Config,
    name: str,
    *,
    context: str | None = None,
    once: bool = False,
    test: bool = False,
    timeout: float = 120,
    verbose: bool = False,
    notify: Notify = print,
    problem: Notify = print,
) -> None:
    """Deploy, then watch and deploy each batch of saves until Ctrl-C (--once: one batch;
    an OpsError when it failed)."""
    from opskit.core import lock
    from opskit.deploy import pipeline, saves

    overlay = cfg.overlay(name)
    if overlay.protected:
        raise OpsError(
            f"`invoke dev` does not deploy to protected overlay {name} (it deploys uncommitted "
            "work)",
            f"commit, then `invoke deploy --overlay={name}`",
        )
    target = pipeline.preflight(cfg, overlay, context)
    loop = Loop(cfg, overlay, target, timeout, test, verbose, notify, problem)
    held = lock.deploy_lock(target.context, name)
    with (
        lock.exclusive(held, wait=0, what=f"a dev loop or deploy of {name}"),
        saves.Watcher(cfg.root, watched(cfg), FILES) as watcher,
    ):
        ok = loop.iterate([], time.time())
        notify(
            f"watching {', '.join(f + '/' for f in watched(cfg))}, {', '.join(FILES)} "
            f"({target.context}, namespace {overlay.namespace}); Ctrl-C stops"
        )
        for batch in watcher.batches():
            changed = loop.relevant(batch)
            if changed:
                ok = loop.iterate(changed, saved_at(cfg.root, changed))
                if once:
                    break
    if once and not ok:
        raise OpsError(f"dev --once: the iteration on {name} failed", "see the lines above")
