"""nox sessions: `nox -l` lists them; `nox` runs the ones a fresh machine can run."""

import fnmatch
import os
import shlex

import nox

# Byte-compile what uv installs, even where PYTHONDONTWRITEBYTECODE is set: start-up matters.
os.environ.setdefault("UV_COMPILE_BYTECODE", "1")

nox.needs_version = ">=2024.4.15"
nox.options.default_venv_backend = "uv|virtualenv"
nox.options.reuse_existing_virtualenvs = True
nox.options.error_on_missing_interpreters = True
nox.options.sessions = ["lint", "tests", "telemetry", "e2e", "cleanroom"]

PYTHON = "3.11"
DEV = ("-e", ".[dev]", "--config-settings", "editable_mode=compat")


def junit(name: str) -> tuple[str, ...]:
    """JUnit XML where both CI systems pick it up (Bitbucket: test-results/), and a summary
    on GitHub's job page when $GITHUB_STEP_SUMMARY is set."""
    return (f"--junitxml=test-results/{name}/junit.xml", "-p", "opskit.testsummary")


@nox.session(python=False, tags=["static"])
def lint(session: nox.Session) -> None:
    """Static checks: the hooks of .pre-commit-config.yaml (ruff, ruff-format, yamllint, mypy,
    mkdocs, shellcheck, Elixir, secrets, CI schemas + parity, kube-score), on the .venv."""
    if not os.path.exists(".venv/bin/pre-commit"):
        session.error("no .venv with pre-commit: run `./bootstrap.sh setup`")
    # secrets.check decrypts; actionlint checks the workflows; kube-score scores the overlays
    only = ("--only=sops", "--only=actionlint", "--only=kube-score")
    session.run(".venv/bin/invoke", "tools.install", *only, external=True)
    hooks = (".venv/bin/pre-commit", "run", "--all-files", "--show-diff-on-failure")
    session.run(*hooks, *session.posargs, external=True)


@nox.session(python=PYTHON)
def tests(session: nox.Session) -> None:
    """Unit and manifest tests with coverage (floor: 85% of opskit/)."""
    session.install(*DEV)
    # every tool a unit or manifest test runs: under CI=true a missing one fails the test
    needed = ("sops", "kube-score", "actionlint", "kubectl", "kustomize", "ksops")
    session.run_install("invoke", "tools.install", *(f"--only={name}" for name in needed))
    coverage = ("--cov=opskit", "--cov-report=term", "--cov-fail-under=85")
    session.run("pytest", *coverage, *junit("tests"), *session.posargs)


@nox.session(python=PYTHON, tags=["slow"], default=False)
def mutation(session: nox.Session) -> None:
    """Mutation check (mutmut) of the core modules and the telemetry store; results in mutants/."""
    session.install(*DEV, "mutmut==3.8.1", "./services/telemetry[test]")
    session.run_install("invoke", "tools.install", "--only=sops", "--only=kubectl")
    os.makedirs("mutants", exist_ok=True)  # the mutated copy finds the built tools here
    if not os.path.lexists("mutants/.tools"):
        os.symlink(os.path.abspath(".tools"), "mutants/.tools")
    args: list[str] | None = list(session.posargs)
    if "--pending" in args:  # resume: only the named mutants that have no result yet
        args.remove("--pending")
        listing = session.run("mutmut", "results", "--all", "true", silent=True) or ""
        args = pending_args(args, str(listing))
    if args is None:
        session.log("mutation: every mutant asked for has a result (mutmut results)")
    else:
        session.run("mutmut", "run", *args)
    session.run("mutmut", "results")
    session.chdir("services/telemetry")  # its own [tool.mutmut]: the store on a real PostgreSQL
    session.run("mutmut", "run")
    session.run("mutmut", "results")


def pending_args(args: list[str], listing: str) -> list[str] | None:
    """`mutmut run` arguments for `--pending`: its options, then each mutant matching a
    pattern in `args` (`opskit.deploy.pipeline*`) that `listing` (`mutmut results --all true`)
    shows without a result. mutmut reruns every mutant it is given by name, so a run cut
    short resumes only this way. No listing yet (nothing generated): the patterns as they
    are; nothing left to run: None."""
    patterns = [a for a in args if "." in a or "*" in a]
    options = [a for a in args if a not in patterns]
    results = dict(
        line.strip().split(": ", 1) for line in listing.splitlines() if ": " in line
    )  # "    <mutant>: <status>"
    if not results:
        return args
    unrun = ("not checked", "check was interrupted by user")
    names = [
        name
        for name, status in results.items()
        if status in unrun and any(fnmatch.fnmatchcase(name, p) for p in patterns or ["*"])
    ]
    return [*options, *names] if names else None


@nox.session(python=PYTHON)
def telemetry(session: nox.Session) -> None:
    """Telemetry service tests on a real Mosquitto (TLS, passwords) and PostgreSQL they start."""
    session.install("-e", "services/telemetry[test]")
    session.chdir("services/telemetry")
    session.run("pytest", *session.posargs)


@nox.session(python=PYTHON, tags=["cluster"])
def e2e(session: nox.Session) -> None:
    """End-to-end tests on a fresh embedded (kwok) cluster, torn down afterwards."""
    session.install(*DEV)
    session.run_install("invoke", "tools.install")
    # ArgoCD + kustomize: the GitOps tests (only they need them; deploy does not)
    session.run_install("invoke", "tools.install", "--only=gitops")
    session.env["OPSKIT_KWOK_NODE"] = "simulated"  # kwok's stages drive these pods
    session.run("pytest", "tests/e2e", "-p", "no:cacheprovider", *junit("e2e"), *session.posargs)


@nox.session(name="e2e-node", python=PYTHON, tags=["cluster"], default=False)
def e2e_node(session: nox.Session) -> None:
    """A real node in the embedded cluster (root, runc): exec, DNS, NetworkPolicy, ArgoCD pods."""
    session.install(*DEV)
    session.run_install("invoke", "tools.install")
    session.run_install("invoke", "tools.install", "--only=node")  # ~2 min warm, ~15 cold
    session.run_install("invoke", "tools.install", "--only=gitops")  # ArgoCD's images
    # the platform on the node: Prometheus and its operator, Traefik (test_platform*.py)
    session.run_install("invoke", "tools.install", "--only=monitoring", "--only=ingress")
    node = ("tests/e2e_node", "-p", "no:cacheprovider", *junit("e2e-node"))
    session.run("pytest", *node, *session.posargs)


@nox.session(python=PYTHON, tags=["ci"])
def cleanroom(session: nox.Session) -> None:
    """Every GitHub job and Bitbucket step in a fresh clone with only what its runner has."""
    session.install(*DEV)
    session.run("python", "-m", "cleanroom", *session.posargs)


@nox.session(name="cluster-smoke", python=PYTHON, tags=["cluster"], default=False)
def cluster_smoke(session: nox.Session) -> None:
    """pytest-testinfra checks against the current cluster (OVERLAY=dev by default)."""
    session.install(*DEV)
    smoke = ("tests/smoke", "-p", "no:cacheprovider", "-rs")
    session.run("pytest", *smoke, *junit("cluster-smoke"), *session.posargs)


@nox.session(name="phoenix-tests", python=PYTHON, tags=["docker"], default=False)
def phoenix_tests(session: nox.Session) -> None:
    """`mix test` of app/ in Docker with PostgreSQL and Redis containers (needs Docker)."""
    session.install(*DEV)
    args = [f"--args={shlex.join(session.posargs)}"] if session.posargs else []
    session.run("invoke", "app.test", *args)


@nox.session(python=PYTHON, tags=["cluster"], default=False)
def bench(session: nox.Session) -> None:
    """Benchmarks: kwok deploys (bench/results.{json,md}), MQTT telemetry (bench/telemetry.md)."""
    session.install(*DEV)
    session.run("invoke", "tools.install")
    session.run("invoke", "tools.install", "--only=gitops")
    session.env["OPSKIT_KWOK_NODE"] = "simulated"  # the kwok deploy path, as its floors assume
    if "--peers" in session.posargs:  # Skaffold beside invoke deploy
        session.run("invoke", "tools.install", "--only=peers")
    session.run("python", "-m", "bench", *session.posargs)
    session.install("-e", "services/telemetry[test]")  # the MQTT pipeline beside mosquitto_sub
    session.chdir("services/telemetry")
    session.run("python", "tests/bench.py", "--out", "../../bench/telemetry.md")
