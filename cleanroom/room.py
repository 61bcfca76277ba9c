"""Run every CI job here as its runner would (`nox -s cleanroom`).

Each GitHub job and Bitbucket step gets a fresh clone of the commit (origin: a local bare
remote), a HOME of its own and a PATH holding only its runner image's commands
(`cleanroom.runners`, exact to each image's documentation) plus what its declared setup
steps add: setup-python, setup-go (at the version it asks for), caches, registry logins, the
env and secrets it maps. Then its own `run:`/`script:` lines run. What needs a container
engine, a cluster or the network is a stand-in that records its argv (`cleanroom.shims`),
present only where the image ships that tool or the job's steps install it; the stage calls
of `FINAL` are changed as it says, an asserted one only once the commands it runs
(`ASSERTED_NEEDS`) are there. A job that needs something its definition does not provide
fails with one line naming the job and the missing thing.
"""

from __future__ import annotations

import functools
import os
import re
import shlex
import shutil
import sys
from dataclasses import dataclass, field
from pathlib import Path

from cleanroom import runners, shims
from opskit.core import shell
from opskit.core.errors import OpsError
from opskit.lint import ci, cimodel
from opskit.lint.cimodel import evaluate

# stage calls .ci/run already runs for real: here their setup (venv, Go tools) is run;
# calls that need a cluster are recorded and asserted, not run
FINAL = {
    "tests": "install-only",
    "e2e": "install-only",
    "cluster-smoke": "asserted",
    "cluster.up": "asserted",
    "monitoring.install": "asserted",
    "deploy": "asserted",
}
ASSERTED_NEEDS = {  # the commands an asserted stage call runs (opskit's tools: .tools/bin or PATH)
    "cluster-smoke": ("kubectl",),
    "cluster.up": ("docker", "k3d", "kubectl"),
    "monitoring.install": ("helm", "kubectl"),
    "deploy": ("kubectl", "sops"),
}
DOCKER_SERVICE = "27.5.1"  # the Docker CLI of Bitbucket's `docker` service (any >= 24.0 works)
CONTEXT = {  # the `${{ ... }}` values of a push to main (mixed case, as GitHub gives it)
    "github.repository": "GitOps-Lab/GitOps-Lab",
    "github.actor": "octocat",
    "github.event_name": "push",
    "github.ref": "refs/heads/main",
    "runner.os": "Linux",
    "github.event.workflow_run.conclusion": "success",
    "github.event.workflow_run.event": "push",
}
BITBUCKET_VARIABLES = {  # repository variables bitbucket-pipelines.yml documents
    "OPSKIT_IMAGE": "ghcr.io/GitOps-Lab/gitops-lab/api",
    "REGISTRY_USER": "cleanroom",
    "REGISTRY_PASSWORD": "cleanroom-registry-token",  # pragma: allowlist secret
}


@functools.cache
def secrets() -> dict[str, str]:
    """The CI secrets: a throwaway age key of this run (no recipient of any file) and a token."""
    out = shell.run(["age-keygen"], timeout=30).stdout
    key = next(line for line in out.splitlines() if line.startswith("AGE-SECRET-KEY-"))
    shell.secret(key)
    return {"GITHUB_TOKEN": "cleanroom-token", "SOPS_AGE_KEY": key}


STEP_TIMEOUT = 1800.0
# this machine's network plumbing (CA bundle, proxies, local wheels), which runners have too
PASS_THROUGH = re.compile(
    r"(?i).*(proxy|cert|ca_bundle|cainfo).*|PIP_FIND_LINKS|PIP_DEFAULT_TIMEOUT"
)


@dataclass
class Outcome:
    job: cimodel.Job
    ok: bool = True
    problem: str = ""
    ran: list[str] = field(default_factory=list)  # run lines executed for real
    record: list[str] = field(default_factory=list)  # stand-in calls, in order
    seconds: float = 0.0
    work: Path | None = None


class Room:
    """One job's clean room: its clone, HOME, PATH and the stand-ins."""

    def __init__(self, source: Path, remote: Path, job: cimodel.Job) -> None:
        """`source`: the repository running the room (its .tools is what a cache restores)."""
        base = source / ".opskit" / "cleanroom" / "room"
        self.job, self.remote, self.source = job, remote, source
        self.cache = base.parent / "cache"
        self.image = runners.IMAGES.get(job.image)
        self.dir = base
        self.work, self.home = base / "work", base / "home"
        self.bin, self.tools = base / "image-bin", base / "setup-bin"
        self.python_bin = base / "python-bin"  # setup-python's, before the image's on PATH
        self.image_python = base / "image-python"
        self.record = base / "record.log"
        self.env: dict[str, str] = {}
        self.commit_of_job = ""

    @property
    def known_image(self) -> runners.Image:
        """The job's runner image; prepare() refuses a job whose image the room does not model."""
        if self.image is None:
            known = ", ".join(runners.IMAGES)
            raise OpsError(
                f"{self.job.title}: runs on {self.job.image!r}, which the clean "
                f"room does not model",
                f"use one of: {known}",
            )
        return self.image

    def prepare(self, commit: str) -> None:
        self.commit_of_job = commit
        image = self.known_image
        shutil.rmtree(self.dir, ignore_errors=True)
        self.home.mkdir(parents=True)
        shell.run(["git", "clone", "-q", "-b", "main", str(self.remote), str(self.work)])
        shell.run(["git", "-C", str(self.work), "checkout", "-q", "--detach", commit])
        runners.base_bin(self.bin)
        go_here = runners.image_bin(self.bin, image)
        shims.write(self.dir / "shims", self.stand_ins(go_here))
        self.env = self._environ()

    def stand_ins(self, go_here: bool = True) -> dict[str, str]:
        """The stand-ins of this job (name -> the version they report): the machinery every
        room has, then only what its image ships that cannot run here."""
        image = self.known_image
        found = dict.fromkeys(("apt-get", "curl", "sha256sum", "cleanroom-asserted"), "")
        if not image.root:
            found |= {"sudo": "", "id": ""}
        found |= {n: v for n, v in image.versions.items() if n in runners.STAND_INS}
        if "docker" in self.job.services and not image.docker:
            found["docker"] = DOCKER_SERVICE
        if image.kubectl:
            found["kubectl"] = ""
        if image.go and not go_here:
            found["go"] = ""
        return found

    def _environ(self) -> dict[str, str]:
        path = (self.tools, self.python_bin, self.dir / "shims", self.image_python, self.bin)
        env = {
            "PATH": ":".join(map(str, path)),
            "HOME": str(self.home),
            "LANG": "C.UTF-8",
            "CI": "true",
            "UV_COMPILE_BYTECODE": "0",  # speed only: the jobs' venvs live for one run
            "PIP_NO_COMPILE": "1",
            "TMPDIR": str(self.dir / "tmp"),
            "GIT_CONFIG_NOSYSTEM": "1",  # no identity or helper from this machine
            "GIT_CONFIG_COUNT": "1",  # and git may not guess one (runners have none)
            "GIT_CONFIG_KEY_0": "user.useConfigOnly",
            "GIT_CONFIG_VALUE_0": "true",
            "CLEANROOM_RECORD": str(self.record),
            "CLEANROOM_LOGINS": str(self.dir / "logins"),
            "CLEANROOM_PYTHON": sys.executable,
            "CLEANROOM_BIN": str(self.bin),
            "CLEANROOM_IMAGE": self.job.image,
            "CLEANROOM_CURL": runners.host_command("curl") or "curl",
            "CLEANROOM_KUBECTL": runners.host_command("kubectl") or "kubectl",
            "CLEANROOM_IMAGE_KUBECTL": self.known_image.kubectl,
            "CLEANROOM_GO": self.known_image.go,
            "CLEANROOM_UID": "0" if self.known_image.root else runners.RUNNER_UID,
            "CLEANROOM_ID": runners.host_command("id") or "id",
            "CLEANROOM_SHA256SUM": runners.host_command("sha256sum") or "sha256sum",
            "CLEANROOM_CHECKSUMS": str(self.work / "ci" / "checksums.sha256"),
        }
        env |= {k: v for k, v in os.environ.items() if PASS_THROUGH.fullmatch(k)}
        (self.dir / "tmp").mkdir(exist_ok=True)
        if self.job.system == "github":
            env |= {"GITHUB_ACTIONS": "true", "GITHUB_WORKSPACE": str(self.work)}
            env["GITHUB_STEP_SUMMARY"] = str(self.dir / "step-summary.md")
            context = self.context()
            env |= {k: evaluate(v, context) for k, v in self.job.env.items()}
        else:
            env |= {"BITBUCKET_BUILD_NUMBER": "1", "BITBUCKET_BRANCH": "main", "GOPATH": "/go"}
            env |= BITBUCKET_VARIABLES | {"SOPS_AGE_KEY": secrets()["SOPS_AGE_KEY"]}
            env |= self._bitbucket_caches()
        return env

    def context(self) -> dict[str, str]:
        return (
            CONTEXT
            | {f"secrets.{k}": v for k, v in secrets().items()}
            | {"github.event.workflow_run.head_sha": self.commit_of_job}
        )

    def _bitbucket_caches(self) -> dict[str, str]:
        caches = set(self.job.caches)
        env = {"GOPATH": str(self.home / "go")}
        if not self.known_image.root:  # a shell runner's host keeps Go's caches between steps
            caches |= {"gomod", "gobuild"}
        if "gomod" in caches:
            env["GOMODCACHE"] = str(Path.home() / "go" / "pkg" / "mod")
        if "gobuild" in caches:
            env["GOCACHE"] = str(Path.home() / ".cache" / "go-build")
        if "pip" in caches:
            env |= _pip_cache()
        if "tools" in caches:
            self._restore_tools()
        return env

    def _restore_tools(self) -> None:
        # resolved: a .tools that links to a shared one is copied, never linked into the job
        source = (self.source / ".tools").resolve()
        if (source / "bin").is_dir() and not (self.work / ".tools").exists():
            shell.run(["cp", "-al", str(source), str(self.work / ".tools")])
            for file in (self.work / ".tools").iterdir():  # the stamp a job may rewrite: a copy
                if file.is_file():
                    data = file.read_bytes()
                    file.unlink()
                    file.write_bytes(data)

    def _venv_key(self) -> str:
        """Which python3 a venv would use (its folder and version): setup-python's, the
        image's, or the one `apt-get install python3-venv` brings on an image without one."""
        if (self.python_bin / "python3").exists():
            return f"setup-{(self.python_bin / 'python3').resolve().parent.parent.name}"
        image = self.known_image
        real = runners.python_interpreter(image.python or image.apt_python)
        return f"image-{Path(real).resolve().parent.parent.name}" if real else ""

    def restore_venv(self) -> None:
        """Every job clones to the same path, so a .venv made by an earlier job with the same
        Python is valid here: reusing it is a cache (bootstrap checks pyproject.toml)."""
        saved = self.cache / f"venv-{self._venv_key()}"
        if self._venv_key() and saved.is_dir() and not (self.work / ".venv").exists():
            saved.rename(self.work / ".venv")

    def save_venv(self) -> None:
        venv = self.work / ".venv"
        if self._venv_key() and (venv / ".opskit-stamp").is_file():
            saved = self.cache / f"venv-{self._venv_key()}"
            shutil.rmtree(saved, ignore_errors=True)
            self.cache.mkdir(parents=True, exist_ok=True)
            venv.rename(saved)

    def final_call_mode(self, line: str) -> tuple[Path, str] | None:
        """For a step running one ci/ script whose call FINAL changes: (script, its text
        with the call changed). The clone's scripts are changed only while that step runs,
        so a lint of the clone sees them as committed."""
        script = self.work / line.split(maxsplit=1)[0]
        if not line.startswith("ci/") or not script.is_file():
            return None
        call = ci.stage_call(script)
        mode = FINAL.get(call.target, "real")
        if mode == "real":
            return None
        command = shlex.join(call.argv)
        needs = ",".join(ASSERTED_NEEDS.get(call.target, ()))
        new = (
            f"{command} --install-only"
            if mode == "install-only"
            else f"cleanroom-asserted --needs={needs} {command}"
        )
        return script, script.read_text().replace(command, new)

    def run_line(self, line: str, extra: dict[str, str]) -> tuple[int, str]:
        log = self.dir / "output.log"
        self.restore_venv()
        env = [f"{k}={v}" for k, v in {**self.env, **extra}.items()]
        bash = ["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", line]
        with log.open("a") as out:
            out.write(f"\n$ {line}\n")
        # `env -i`: the job sees only its own environment, nothing of this machine's
        argv = ["/usr/bin/env", "-i", *env, *bash]
        changed = self.final_call_mode(line)
        original = changed[0].read_text() if changed else ""
        if changed:
            changed[0].write_text(changed[1])
        try:
            result = shell.run(argv, cwd=str(self.work), check=False, timeout=STEP_TIMEOUT)
        finally:
            if changed:
                changed[0].write_text(original)
        with log.open("a") as out:
            out.write(result.stdout + result.stderr)
        return result.returncode, result.stdout + result.stderr


def _pip_cache() -> dict[str, str]:
    """pip's and uv's caches of this machine, as setup-python's `cache: pip` restores."""
    return {
        "PIP_CACHE_DIR": str(Path.home() / ".cache" / "pip"),
        "UV_CACHE_DIR": str(Path.home() / ".cache" / "uv"),
    }


if __name__ == "__main__":
    from cleanroom.jobs import main

    sys.exit(main(sys.argv[1:]))
