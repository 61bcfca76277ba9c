"""`invoke rollback` as a user runs it, without a cluster: the context allow-list, the
revision it returns to, --dry-run and invoke's own --dry. The kubectl calls that need a
cluster are answered by a Deployment that keeps its revision history the way the
deployment controller does (`rollout undo` makes the old template the newest revision)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from invoke import Program

import tasks
from opskit.core import paths
from tests import fakes

ROOT = Path(__file__).resolve().parents[2]
NAMESPACE = "gitops-lab-dev"
pytestmark = [pytest.mark.tools("kubectl"), pytest.mark.usefixtures("restore_task_help")]


class Deployment:
    """deployment/api with its revisions (revision -> image); answers kubectl like a server:
    `rollout undo` copies a revision's template to a new revision, an unknown one is an error."""

    def __init__(self, images: dict[int, str], sidecar: str | None = None):
        self.revisions = dict(images)
        self.current = max(images)
        self.sidecar = sidecar  # a second container's image, the same in every revision

    def item(self) -> dict:
        image = self.revisions[self.current]
        meta = {"name": "api", "namespace": NAMESPACE, "generation": self.current}
        meta["annotations"] = {"deployment.kubernetes.io/revision": str(self.current)}
        status = {"observedGeneration": self.current, "replicas": 1}
        status |= {"updatedReplicas": 1, "availableReplicas": 1}
        return {
            "kind": "Deployment",
            "metadata": meta,
            "spec": {
                "replicas": 1,
                "selector": {"matchLabels": {"app": "api"}},
                "template": {"spec": {"containers": self.containers(image)}},
            },
            "status": status,
        }

    def containers(self, image: str) -> list[dict]:
        sidecar = [{"name": "proxy", "image": self.sidecar}] if self.sidecar else []
        return [{"name": "api", "image": image}, *sidecar]

    def undo(self, to_revision: int | None) -> tuple[int, str, str]:
        if to_revision is None:
            to_revision = sorted(self.revisions)[-2]  # the one before the current
        if to_revision not in self.revisions:
            return 1, "", f"error: unable to find specified revision {to_revision} in history"
        image = self.revisions.pop(to_revision)  # the controller moves it to the top
        self.current = max(self.revisions, default=0) + 1
        self.revisions[self.current] = image
        return 0, "deployment.apps/api rolled back\n", ""

    def __call__(self, argv: tuple[str, ...], stdin: bytes) -> tuple[int, str, str]:
        if "--kubeconfig" not in argv:  # version probes
            return fakes.real(argv, stdin)
        verb = argv[5:]
        if "-n" in verb and verb[verb.index("-n") + 1] != NAMESPACE:
            return 0, json.dumps({"items": []}), ""  # another namespace: nothing there
        if verb[0] == "api-versions":
            return 0, "v1\napps/v1\n", ""
        if verb[:2] == ("get", "deployments,statefulsets,controllerrevisions"):
            return 0, json.dumps({"items": [self.item()]}), ""
        if verb[:3] == ("rollout", "undo", "deployment/api"):
            flag = [a for a in verb if a.startswith("--to-revision=")]
            return self.undo(int(flag[0].split("=")[1]) if flag else None)
        raise AssertionError(f"unexpected kubectl call: {argv}")


@pytest.fixture
def project(tmp_path, monkeypatch):
    """opskit.yaml in tmp_path (embedded cluster, its kubeconfig written by `cluster.up`)."""
    text = (ROOT / "opskit.yaml").read_text().replace("provider: auto", "provider: kwok", 1)
    dev, prod = text.split("\n  prod:\n")  # prod allows only the k3d cluster here
    prod = prod.replace(
        "contexts: [kwok-gitops-lab, k3d-gitops-lab, gitops-lab]", "contexts: [k3d-gitops-lab]", 1
    )
    text = f"{dev}\n  prod:\n{prod}"
    (tmp_path / "opskit.yaml").write_text(text)
    (tmp_path / ".tools").symlink_to(ROOT / ".tools")
    monkeypatch.setattr(paths, "root", lambda: tmp_path)
    monkeypatch.delenv("OPSKIT_STATE_DIR", raising=False)
    kubeconfig = tmp_path / ".opskit/clusters/kwok-gitops-lab/kubeconfig"
    kubeconfig.parent.mkdir(parents=True)
    kubeconfig.write_text("apiVersion: v1\nkind: Config\n")  # no server: kubectl is faked
    return tmp_path


def invoke(*argv: str) -> int:
    try:
        Program(namespace=tasks.ns).run(["invoke", *argv])
    except SystemExit as exited:
        return int(exited.code or 0)
    return 0


def kubectl_verbs(calls: list[tuple[str, ...]]) -> list[tuple[str, ...]]:
    """Each cluster call's argv after `kubectl --kubeconfig K --context C`, checking those."""
    verbs = []
    for argv in calls:
        if "--kubeconfig" in argv:
            assert argv[:5] == (
                "kubectl",
                "--kubeconfig",
                str(paths.root() / ".opskit/clusters/kwok-gitops-lab/kubeconfig"),
                "--context",
                "kwok-gitops-lab",
            ), argv
            verbs.append(argv[5:])
    return verbs


UNDO = ("rollout", "undo", "deployment/api", "-n", NAMESPACE)


def test_rollback_returns_to_the_previous_revision_and_waits_for_it(project, capsys):
    cluster = Deployment({1: "api:one", 2: "api:two", 3: "api:three"})
    with fakes.recorder({"kubectl": cluster}) as calls:
        assert invoke("rollback", "--overlay=dev", "--timeout=5") == 0
    assert UNDO in kubectl_verbs(calls)
    assert cluster.current == 4 and cluster.revisions[4] == "api:two"
    err = capsys.readouterr().err
    assert "rolling back deployment/api from revision 3 to the previous revision" in err
    assert "deployment/api is at revision 4: api:two" in err


def test_to_revision_is_passed_to_kubectl_and_reached(project, capsys):
    cluster = Deployment({1: "api:one", 2: "api:two", 3: "api:three"})
    with fakes.recorder({"kubectl": cluster}) as calls:
        assert invoke("rollback", "--to-revision=1", "--timeout=5") == 0
    assert (*UNDO, "--to-revision=1") in kubectl_verbs(calls)
    assert cluster.revisions[cluster.current] == "api:one"
    assert "deployment/api is at revision 4: api:one" in capsys.readouterr().err


def test_a_revision_not_in_the_history_fails_with_kubectls_reason_and_exit_1(project, capsys):
    cluster = Deployment({1: "api:one", 2: "api:two"})
    with fakes.recorder({"kubectl": cluster}):
        assert invoke("rollback", "--to-revision=7") == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-2].startswith("opskit: error: `kubectl` exited with code 1: "), err
    assert err[-2].endswith(f"{' '.join(UNDO)} --to-revision=7"), err
    assert err[-1] == "  | error: unable to find specified revision 7 in history"
    assert cluster.current == 2 and cluster.revisions == {1: "api:one", 2: "api:two"}


@pytest.mark.parametrize("context", ["kind-elsewhere", "kwok-gitops-lab"])
def test_a_context_outside_the_overlays_allow_list_is_refused_before_the_cluster_is_asked(
    project, capsys, context
):
    cluster = Deployment({1: "api:one", 2: "api:two"})
    with fakes.recorder({"kubectl": cluster}) as calls:
        assert invoke("rollback", "--overlay=prod", f"--context={context}") == 1
    assert kubectl_verbs(calls) == []  # only kubectl's version was asked
    assert cluster.current == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [
        f"opskit: error: kube context {context!r} is not allowed for overlay prod "
        "(allowed: k3d-gitops-lab); add it to overlays.prod.contexts in opskit.yaml, or pass "
        "--context"
    ], err


@pytest.mark.parametrize(
    "argv",
    [("rollback", "--dry-run"), ("--dry", "rollback")],
    ids=["--dry-run", "invoke --dry"],
)
def test_a_dry_rollback_prints_the_undo_and_changes_nothing(project, capsys, argv):
    cluster = Deployment({1: "api:one", 2: "api:two"})
    with fakes.recorder({"kubectl": cluster}) as calls:
        assert invoke(*argv, "--to-revision=1") == 0
    assert not any(v[:2] == ("rollout", "undo") for v in kubectl_verbs(calls))
    assert cluster.current == 2 and cluster.revisions == {1: "api:one", 2: "api:two"}
    err = capsys.readouterr().err
    assert "would roll back deployment/api from revision 2 to 1" in err
    undo = [line for line in err.splitlines() if line.startswith("[dry-run] ")]
    assert len(undo) == 1 and undo[0].endswith(
        f"rollout undo deployment/api -n {NAMESPACE} --to-revision=1"
    ), undo


def test_an_unknown_workload_names_the_ones_there(project, capsys):
    cluster = Deployment({1: "api:one", 2: "api:two"})
    with fakes.recorder({"kubectl": cluster}):
        assert invoke("rollback", "--workload=deployment/web") == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [
        f"opskit: error: {NAMESPACE}: no workload 'deployment/web' (found: deployment/api); "
        "pass --workload kind/name of a Deployment or StatefulSet"
    ], err
    assert cluster.current == 2


def test_rollback_called_as_a_library_rolls_back_unless_told_to_dry_run(project):
    """`dry_run` defaults to a real rollback (the task passes it; other callers may not);
    the report names every container's image."""
    from opskit.core import config
    from opskit.deploy import rollback

    cluster, lines = Deployment({1: "api:one", 2: "api:two"}, sidecar="proxy:1"), []
    cfg = config.load(project / "opskit.yaml")
    with fakes.recorder({"kubectl": cluster}):
        rollback.rollback(cfg, "dev", workload="deployment/api", timeout=5, notify=lines.append)
    assert cluster.current == 3 and cluster.revisions[3] == "api:one"
    assert lines[0] == "rolling back deployment/api from revision 2 to the previous revision"
    assert lines[-1] == "deployment/api is at revision 3: api:one, proxy:1"


def test_a_namespace_without_workloads_says_it_found_none(project, capsys):
    def empty(argv, stdin):
        if "--kubeconfig" not in argv:
            return fakes.real(argv, stdin)
        if argv[5] == "api-versions":
            return 0, "v1\napps/v1\n", ""
        return 0, json.dumps({"items": []}), ""

    with fakes.recorder({"kubectl": empty}):
        assert invoke("rollback") == 1
    assert capsys.readouterr().err.strip().splitlines() == [
        f"opskit: error: {NAMESPACE}: no workload 'deployment/api' (found: none); "
        "pass --workload kind/name of a Deployment or StatefulSet"
    ]
