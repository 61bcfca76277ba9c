"""ArgoCD as local processes next to the embedded (kwok) cluster, which runs no containers.

Four managed processes, each started by start-stop-daemon with a pid file, a log file and a
marker in its environment (OPSKIT_ARGOCD=<state folder>):
  redis        redis-server, memory only (no dump file: rendered Secrets are cached there)
  git          git-daemon serving this clone read-only on git://127.0.0.1:<port>/
  repo-server  argocd (ARGOCD_BINARY_NAME=argocd-repo-server), renders with kustomize + ksops
  controller   argocd (ARGOCD_BINARY_NAME=argocd-application-controller)
Everything lives below <cluster state>/argocd (ports.json, run/, logs/, tmp/, bin/); `stop`
ends only processes whose pid file, executable and marker all say they are ours.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import sys
import time
from pathlib import Path

from opskit.clusters.daemons import Daemon, Supervisor, last_line
from opskit.core import paths, shell, tools, yamlio
from opskit.core.errors import OpsError

MARKER = "OPSKIT_ARGOCD"
NAMES = ("redis", "git", "repo-server", "controller")
PORTS = ("redis", "git", "repo-server", "repo-metrics", "controller-metrics")
READY_TIMEOUT = 90.0
PID_GRACE = 10.0  # seconds for a just-started daemon's pid file to appear
# How the controller polls git, by opskit.yaml argocd.local_polling. fast (the default; see
# docs/gitops.md): resync every 10 s, git refs cached 5 s. upstream: no flags, so ArgoCD's own
# defaults hold (--app-resync 120, --app-resync-jitter 60, --revision-cache-expiration 3m;
# cmd/argocd-application-controller/commands, reposerver/cache), for the bench's comparison.
POLLING: dict[str, dict[str, tuple[str, ...]]] = {
    "fast": {
        "controller": ("--app-resync", "10", "--app-resync-jitter", "0"),
        "repo-server": ("--revision-cache-expiration", "5s"),
    },
    "upstream": {"controller": (), "repo-server": ()},
}
CONTROLLER_FLAGS = ("--persist-resource-health",)  # argocd.wait names the culprit
POLLED = ("repo-server", "controller")  # restarted when the polling mode changes


class LocalArgoCD:
    """The processes of one cluster's local ArgoCD, by its state folder."""

    def __init__(
        self,
        cluster_state: Path,
        kubeconfig: Path,
        namespace: str = "argocd",
        polling="fast",
        listen: tuple[str, ...] = ("127.0.0.1",),
    ):
        self.home = cluster_state / "argocd"
        self.kubeconfig = kubeconfig
        self.namespace = namespace
        self.polling = polling
        self.supervisor = Supervisor(self.home, MARKER)
        self.listen = listen  # the git server's addresses (loopback first: readiness probe)

    # --- files -------------------------------------------------------------------------

    def pidfile(self, name: str) -> Path:
        return self.supervisor.pidfile(name)

    def logfile(self, name: str) -> Path:
        return self.supervisor.logfile(name)

    def polling_file(self) -> Path:
        return self.home / "run" / "polling"

    def polling_current(self) -> bool:
        """Whether the running controller and repo-server poll as `self.polling` says."""
        try:
            return self.polling_file().read_text().strip() == self.polling
        except OSError:
            return False

    def specfile(self, name: str) -> Path:
        """What the running daemon `name` was started with (executable, arguments, environment)."""
        return self.home / "run" / f"{name}.spec"

    def changed(self, root: Path, only: tuple[str, ...] = NAMES) -> list[str]:
        """The running daemons started otherwise than they would be now: another clone
        served (a second checkout on the same cluster), another key, other flags. A daemon
        with no record (started by an older suite) counts as changed."""
        ports = self.ports()
        if not set(PORTS) <= set(ports):
            return [name for name in only if name in self.running()]
        up = self.running()
        return [
            daemon.name
            for daemon in self.daemons(root, ports, only)
            if daemon.name in up and _read(self.specfile(daemon.name)) != _spec(daemon)
        ]

    def ports(self) -> dict[str, int]:
        try:
            return yamlio.loads_json((self.home / "ports.json").read_text(), "ports.json")
        except (OSError, ValueError):
            return {}

    def choose_ports(self) -> dict[str, int]:
        """Free loopback ports, kept in ports.json while they stay free or ours."""
        ports = self.ports()
        taken = not self.running() and any(map(_listening, ports.values()))
        if set(ports) != set(PORTS) or taken:
            ports = dict(zip(PORTS, _free_ports(len(PORTS)), strict=True))
            paths.write_atomic(self.home / "ports.json", json.dumps(ports, indent=1) + "\n")
        return ports

    @property
    def repo_url(self) -> str:
        """Where ArgoCD reads this clone on the embedded cluster."""
        return self.repo_url_at("127.0.0.1")

    def repo_url_at(self, host: str) -> str:
        """The git server's URL at one of the addresses it listens on (`start`'s `listen`)."""
        return f"git://{host}:{self.ports().get('git', 0)}/"

    # --- the processes -----------------------------------------------------------------

    def daemons(
        self, root: Path, ports: dict[str, int], only: tuple[str, ...] = NAMES
    ) -> list[Daemon]:
        """The daemons named in `only`; only their executables need to be there."""

        def exe(name: str, *needed_by: str) -> str:
            return tools.exe(name) if set(needed_by) & set(only) else name

        redis = f"127.0.0.1:{ports['redis']}"
        argocd = exe("argocd", "repo-server", "controller")
        common = self._argocd_env()
        every = [
            Daemon(
                "redis",
                exe("redis-server", "redis"),
                (
                    "--bind",
                    "127.0.0.1",
                    "--port",
                    str(ports["redis"]),
                    "--save",
                    "",
                    "--appendonly",
                    "no",
                    "--dir",
                    str(self.home / "tmp"),
                    "--protected-mode",
                    "no",
                    "--set-proc-title",
                    "no",  # its title rewrite would overwrite our marker
                ),
                port="redis",
            ),
            Daemon(
                "git",
                str(Path(_git_exec_path()) / "git-daemon"),
                (
                    *(f"--listen={host}" for host in self.listen),
                    f"--port={ports['git']}",
                    "--reuseaddr",
                    "--export-all",
                    f"--base-path={root}",
                    str(root),
                ),
                port="git",
            ),
            Daemon(
                "repo-server",
                argocd,
                (
                    "--address",
                    "127.0.0.1",
                    "--port",
                    str(ports["repo-server"]),
                    "--metrics-port",
                    str(ports["repo-metrics"]),
                    "--redis",
                    redis,
                    *POLLING[self.polling]["repo-server"],
                ),
                (*common, ("ARGOCD_BINARY_NAME", "argocd-repo-server")),
                port="repo-server",
            ),
            Daemon(
                "controller",
                argocd,
                (
                    "--namespace",
                    self.namespace,
                    "--redis",
                    redis,
                    "--repo-server",
                    f"127.0.0.1:{ports['repo-server']}",
                    "--metrics-port",
                    str(ports["controller-metrics"]),
                    *POLLING[self.polling]["controller"],
                    *CONTROLLER_FLAGS,
                ),
                (*common, ("ARGOCD_BINARY_NAME", "argocd-application-controller")),
                port="controller-metrics",
            ),
        ]
        return [daemon for daemon in every if daemon.name in only]

    def _argocd_env(self) -> tuple[tuple[str, str], ...]:
        from opskit.secrets import sops

        data = {name: str(self.home / name) for name in ("tls", "ssh", "gnupg", "gpg")}
        path = os.pathsep.join((str(self.home / "bin"), str(paths.tools_bin()), os.environ["PATH"]))
        return (
            ("ARGOCD_FAKE_IN_CLUSTER", "true"),  # https://kubernetes.default.svc = kubeconfig's
            ("KUBECONFIG", str(self.kubeconfig)),
            ("ARGOCD_TLS_DATA_PATH", data["tls"]),
            ("ARGOCD_SSH_DATA_PATH", data["ssh"]),
            ("ARGOCD_GNUPGHOME", data["gnupg"]),
            ("ARGOCD_GPG_DATA_PATH", data["gpg"]),
            ("ARGOCD_GPG_ENABLED", "false"),
            ("TMPDIR", str(self.home / "tmp")),  # the repo-server's clones
            ("HOSTNAME", "argocd-application-controller-0"),
            ("PATH", path),  # ksops and git-verify-wrapper.sh, then kustomize and sops
            ("SOPS_AGE_KEY_FILE", str(sops.key_file())),
        )

    def start_step(self, daemon: Daemon) -> shell.Step:
        return self.supervisor.start_step(daemon)

    def stop_step(self, name: str, exe: str) -> shell.Step:
        return shell.Step(
            argv=(
                "start-stop-daemon",
                "--stop",
                "--pidfile",
                str(self.pidfile(name)),
                "--exec",
                exe,
                "--retry",
                "TERM/10/KILL/5",
                "--remove-pidfile",
                "--oknodo",
            ),
            what=f"stop {name}",
            mutates=True,
            timeout=30,
        )

    def pid(self, name: str) -> int | None:
        """The pid of our process `name` while it runs: pid file, and its environment carries
        our marker (a reused pid of someone else's process does not)."""
        return self.supervisor.pid(name)

    def running(self) -> dict[str, int]:
        return {name: pid for name in NAMES if (pid := self.pid(name)) is not None}

    def start(
        self,
        root: Path,
        report=print,
        dry_run: bool = False,
        release: Path | None = None,
        only: tuple[str, ...] = NAMES,
    ) -> dict[str, int]:
        """Start what is not running yet; wait until each listens. Returns the ports.
        `release`: the pinned ArgoCD source, whose hack/ has the repo-server's helpers.
        `only`: these daemons (ArgoCD in pods needs the git server alone)."""
        if dry_run:
            ports = self.ports() or dict.fromkeys(PORTS, 0)
        else:
            ports = self.choose_ports()
            for folder in ("run", "logs", "tmp", "bin", "tls", "ssh", "gnupg", "gpg"):
                (self.home / folder).mkdir(parents=True, exist_ok=True)
            self._write_helpers(release)
        up = self.running()
        if not self.polling_current():  # another polling mode: only these two change
            for name in POLLED:
                if up.pop(name, None) is not None:
                    self._stop_one(name, report, dry_run)
        for name in self.changed(root, only) if not dry_run else ():
            if up.pop(name, None) is not None:
                report(f"restarting ArgoCD's {name}: started for another checkout, key or flags")
                self._stop_one(name, report, dry_run)
        daemons = self.daemons(root, ports, only)
        self._start_missing(daemons, up, ports, report, dry_run)
        if not dry_run:
            paths.write_atomic(self.polling_file(), self.polling + "\n")
        return ports

    def _start_missing(self, daemons, up, ports, report, dry_run: bool) -> None:
        """Start each daemon not up yet, waiting until it listens; when one fails, those
        this call started are stopped again (nothing half-started is left running)."""
        started: list[str] = []
        try:
            for daemon in daemons:
                if daemon.name in up:
                    continue
                report(f"starting {daemon.name} (log: {self.logfile(daemon.name)})")
                started.append(daemon.name)
                shell.run_step(self.start_step(daemon), dry_run=dry_run)
                if not dry_run:
                    self._wait_listening(daemon, ports[daemon.port])
                    paths.write_atomic(self.specfile(daemon.name), _spec(daemon))
        except BaseException:
            for name in reversed(started):
                self._stop_one(name, report, dry_run)
            raise

    def _wait_listening(self, daemon: Daemon, port: int) -> None:
        """Until `daemon` listens on `port`. It has failed once its process has ended (a pid
        file not written yet gets PID_GRACE seconds: start-stop-daemon may return first)."""
        started = time.monotonic()
        while not _listening(port):
            waited = time.monotonic() - started
            written = _has_text(self.pidfile(daemon.name))
            gone = self.supervisor.exited(daemon.name) and (written or waited > PID_GRACE)
            if gone or waited > READY_TIMEOUT:
                tail = last_line(self.logfile(daemon.name), width=200)
                raise OpsError(
                    f"ArgoCD's {daemon.name} did not start listening on 127.0.0.1:{port}: {tail}",
                    f"see {self.logfile(daemon.name)}",
                )
            time.sleep(0.2)

    def _write_helpers(self, release: Path | None) -> None:
        """bin/ksops (this suite's KSOPS-compatible plugin) and bin/git-verify-wrapper.sh
        (the repo-server execs it even with GPG off; the image ships it from hack/)."""
        ksops = self.home / "bin" / "ksops"
        _write_exe(ksops, f'#!/bin/sh\nexec "{sys.executable}" -m opskit.secrets.ksops "$@"\n')
        if release is not None:
            wrapper = release / "hack" / "git-verify-wrapper.sh"
            _write_exe(self.home / "bin" / wrapper.name, wrapper.read_text())

    def stop(self, report=print, dry_run: bool = False) -> None:
        """Stop our processes (only those provably ours) and remove the state folder."""
        if not self.home.exists():
            return
        for name in reversed(NAMES):
            self._stop_one(name, report, dry_run)
        if not dry_run:
            shutil.rmtree(self.home, ignore_errors=True)

    def _stop_one(self, name: str, report, dry_run: bool) -> None:
        if (pid := self.pid(name)) is not None:
            report(f"stopping ArgoCD's {name}")
            exe = os.readlink(f"/proc/{pid}/exe")  # start-stop-daemon checks it again
            shell.run_step(self.stop_step(name, exe), dry_run=dry_run)


def _git_exec_path() -> str:
    return shell.run(["git", "--exec-path"], timeout=10).stdout.strip()


def _write_exe(path: Path, text: str) -> None:
    if not path.is_file() or path.read_text() != text:
        paths.write_atomic(path, text)
        path.chmod(0o755)


def _free_ports(count: int) -> list[int]:
    socks = [socket.socket() for _ in range(count)]
    try:
        for sock in socks:
            sock.bind(("127.0.0.1", 0))
        return [sock.getsockname()[1] for sock in socks]
    finally:
        for sock in socks:
            sock.close()


def _spec(daemon: Daemon) -> str:
    return json.dumps({"exe": daemon.exe, "args": daemon.args, "env": daemon.env}) + "\n"


def _read(path: Path) -> str:
    try:
        return path.read_text()
    except OSError:
        return ""


def _has_text(path: Path) -> bool:
    try:
        return bool(path.read_text().strip())
    except OSError:
        return False


def _listening(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex(("127.0.0.1", port)) == 0
