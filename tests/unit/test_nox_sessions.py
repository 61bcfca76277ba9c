"""The nox sessions install what their tests need: a fresh clone runs them with nothing else."""

from __future__ import annotations

import functools
import importlib.util
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
# the install tasks the real-node tests invoke, and the tool group each needs built first
NEEDS = {
    "argocd.install": "gitops",
    "monitoring.install": "monitoring",
    "ingress.install": "ingress",
}


class _Session:
    """Records what a session function asks of nox."""

    def __init__(self) -> None:
        self.installs: list[tuple[str, ...]] = []
        self.env: dict[str, str] = {}
        self.posargs: list[str] = []

    def install(self, *args: str) -> None:
        pass

    def run_install(self, *args: str) -> None:
        self.installs.append(args)

    def run(self, *args: str, **_kwargs) -> None:
        pass


@functools.cache
def _noxfile():
    """noxfile.py loaded once: a second load registers its sessions again, which nox
    warns is to become an error."""
    spec = importlib.util.spec_from_file_location("noxfile_under_test", ROOT / "noxfile.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_e2e_node_builds_every_tool_group_its_tests_install_on_the_cluster():
    """`nox -s e2e-node` on a fresh clone failed 10 platform and promote tests with
    "prometheus is not built": the session built the node's and ArgoCD's tools only."""
    used = set()
    for path in (ROOT / "tests" / "e2e_node").glob("*.py"):
        used |= set(re.findall(r'"((?:argocd|monitoring|ingress)\.install)"', path.read_text()))
    assert used == set(NEEDS)  # a new install task in the tests: say what it needs here
    session = _Session()
    _noxfile().e2e_node(session)
    groups = {
        a.split("=", 1)[1] for call in session.installs for a in call if a.startswith("--only=")
    }
    assert {"node", *(NEEDS[task] for task in used)} <= groups


LISTING = """\
    opskit.deploy.pipeline.x_deploy__mutmut_1: killed
    opskit.deploy.pipeline.x_deploy__mutmut_2: not checked
    opskit.deploy.pipeline.x_deploy__mutmut_3: check was interrupted by user
    opskit.deploy.pipeline.x_deploy__mutmut_4: survived
    opskit.secrets.sops.x_rotate__mutmut_1: not checked
    opskit.gitops.watch.x_follow__mutmut_5: not checked
"""


def test_mutation_pending_resumes_only_the_named_mutants_without_a_result():
    """mutmut reruns every mutant named on its command line: `-- --pending <patterns>`
    passes it only those that have no result yet, so a run cut short resumes."""
    pending_args = _noxfile().pending_args
    args = ["--max-children", "1", "opskit.deploy.pipeline*", "opskit.secrets.sops*"]
    assert pending_args(args, LISTING) == [
        "--max-children",
        "1",
        "opskit.deploy.pipeline.x_deploy__mutmut_2",
        "opskit.deploy.pipeline.x_deploy__mutmut_3",
        "opskit.secrets.sops.x_rotate__mutmut_1",
    ]
    assert pending_args([], LISTING) == [  # no pattern: every module's
        "opskit.deploy.pipeline.x_deploy__mutmut_2",
        "opskit.deploy.pipeline.x_deploy__mutmut_3",
        "opskit.secrets.sops.x_rotate__mutmut_1",
        "opskit.gitops.watch.x_follow__mutmut_5",
    ]
    assert pending_args(["opskit.clusters.connect*"], LISTING) is None  # all have results
    assert pending_args(args, "") == args  # nothing generated yet: mutmut takes the patterns


def test_mutation_pending_runs_nothing_when_every_mutant_has_a_result(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # the session makes mutants/ where it runs

    class Recording(_Session):
        def __init__(self, listing: str) -> None:
            super().__init__()
            self.listing, self.runs = listing, []

        def run(self, *args: str, **kwargs) -> str:
            self.runs.append(args)
            return self.listing if args[:2] == ("mutmut", "results") and kwargs else ""

        def log(self, *_args) -> None:
            pass

        def chdir(self, _path) -> None:
            pass

    nox_module = _noxfile()
    session = Recording(LISTING.replace("not checked", "killed").replace("check was", "x"))
    session.posargs = ["--pending", "opskit.deploy.pipeline*"]
    nox_module.mutation(session)
    # only the telemetry store's own run (from services/telemetry, no names)
    assert [r for r in session.runs if r[:2] == ("mutmut", "run")] == [("mutmut", "run")]
    session = Recording(LISTING)
    session.posargs = ["--pending", "opskit.secrets.sops*"]
    nox_module.mutation(session)
    assert ("mutmut", "run", "opskit.secrets.sops.x_rotate__mutmut_1") in session.runs
