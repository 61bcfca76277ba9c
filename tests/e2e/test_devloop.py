"""`invoke dev` on the kwok cluster: started in the background in a scratch copy, driven by
saving files, stopped with Ctrl-C; each test reads the loop's status lines and the cluster."""

from __future__ import annotations

import re
import signal

import pytest
import sh
import yaml

from bench import scratch
from bench.background import Running
from opskit.core import lock
from tests.e2e.project import BIN, Project, make_project

OVERLAY, NAMESPACE = "loop", "gitops-lab-loop"
PATCH = f"k8s/overlays/{OVERLAY}/api-config.yaml"
STATUS = rf"^opskit: {OVERLAY} #\d+: "


@pytest.fixture(scope="module")
def project(tmp_path_factory, kwok_cluster, kube) -> Project:
    """A scratch copy with an overlay of its own (namespace gitops-lab-loop, new)."""
    kube.run("delete", "namespace", NAMESPACE, "--ignore-not-found", timeout=120)
    project = make_project(tmp_path_factory.mktemp("devloop") / "repo", kwok_cluster.name)
    data = scratch.load_config(project.path)
    scratch.add_overlay(project.path, data, OVERLAY, NAMESPACE)
    scratch.save_config(project.path, data)
    project.invoke("secrets.init", "--overlay", OVERLAY)
    project.invoke("certs.issue", "--overlay", OVERLAY)
    project.commit_all("test: an overlay for the dev loop")
    return project


def start(project: Project, *args: str) -> Running:
    return Running(
        sh.Command(str(BIN / "invoke")),
        "dev",
        f"--overlay={OVERLAY}",
        *args,
        cwd=project.path,
        env=project.env,
    )


@pytest.fixture(scope="module")
def loop(project):
    running = start(project, "--timeout=30")  # a rollout that never finishes fails soon
    running.expect(r"^opskit: watching k8s/, app/, services/telemetry/, opskit\.yaml", timeout=180)
    yield running
    running.stop()


def _save_pool_size(project: Project, value: str, extra: dict | None = None) -> None:
    path = project.path / PATCH
    data = yaml.safe_load(path.read_text())
    data["data"]["POOL_SIZE"] = value
    data.pop("bogus", None)
    data.update(extra or {})
    path.write_text(yaml.safe_dump(data, sort_keys=False))


def _config(kube) -> dict:
    return kube.json("get", "configmap", "api-config", "-n", NAMESPACE)


def test_first_iteration_deploys_the_working_tree(loop, kube):
    first = next(line for line in loop.seen if re.match(STATUS, line))
    assert first.startswith(f"opskit: {OVERLAY} #0: the working tree -> applied: ")
    assert "created (" in first and re.search(r"; rolled out [^;]*deployment/api", first)
    assert _config(kube)["data"]["POOL_SIZE"] == "5"


def test_a_saved_configmap_value_reaches_the_cluster_and_the_status_line(project, loop, kube):
    _save_pool_size(project, "7")
    _, line = loop.expect(STATUS)
    assert line.startswith(f"opskit: {OVERLAY} #1: {PATCH} -> applied: ")
    assert "ConfigMap/api-config" in line.split("unchanged")[0]  # among the changed ones
    # every project image is re-tagged (a dirty tag): telemetry rolls out beside the api
    assert re.search(r"; rolled out [^;]*deployment/api[^;]*; ready \d+\.\d\ds after save$", line)
    assert _config(kube)["data"]["POOL_SIZE"] == "7"


def test_an_invalid_field_is_reported_and_nothing_applied(project, loop, kube):
    before = _config(kube)["metadata"]["resourceVersion"]
    _save_pool_size(project, "8", {"bogus": "field"})
    _, line = loop.expect(STATUS)
    assert line == (
        f"opskit: {OVERLAY} #2: {PATCH} -> FAILED: {OVERLAY}: 1 validation problem(s), "
        "nothing applied; fix them and run again"
    )
    problems = [entry for entry in loop.seen if entry.startswith(f"{OVERLAY}/ConfigMap/")]
    assert problems and "bogus" in problems[-1]
    assert re.match(rf"^{OVERLAY}/ConfigMap/api-config: [^:]+: ", problems[-1])
    assert _config(kube)["metadata"]["resourceVersion"] == before
    assert _config(kube)["data"]["POOL_SIZE"] == "7"


def test_the_fix_is_applied(project, loop, kube):
    _save_pool_size(project, "8")
    _, line = loop.expect(STATUS)
    assert line.startswith(f"opskit: {OVERLAY} #3: {PATCH} -> applied: ")
    assert _config(kube)["data"]["POOL_SIZE"] == "8"


def test_a_failed_rollout_is_restored_and_the_loop_goes_on(project, loop, kube):
    from opskit.clusters import kwok_stages

    kustomization = project.path / "k8s" / "overlays" / OVERLAY / "kustomization.yaml"
    good_text = kustomization.read_text()
    good_template = _api(kube)["spec"]["template"]
    data = yaml.safe_load(good_text)
    label = {kwok_stages.NEVER_READY_LABEL: "true"}
    patch = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "api"},
        "spec": {"template": {"metadata": {"labels": label}}},
    }
    data.setdefault("patches", []).append({"patch": yaml.safe_dump(patch)})
    kustomization.write_text(yaml.safe_dump(data, sort_keys=False))
    _, line = loop.expect(STATUS, timeout=120)
    assert " -> FAILED: deploy to loop failed: deployment/api did not roll out" in line
    assert "restored the " in line
    assert _api(kube)["spec"]["template"] == good_template
    kustomization.write_text(good_text)
    _, line = loop.expect(STATUS, timeout=120)
    assert " -> applied: " in line


def _api(kube) -> dict:
    return kube.json("get", "deployment", "api", "-n", NAMESPACE)


def test_editor_temp_files_do_not_start_an_iteration(project, loop):
    (project.path / "k8s" / "overlays" / OVERLAY / ".api-config.yaml.swp").write_text("x")
    (project.path / "k8s" / "overlays" / OVERLAY / "4913").write_text("")
    with pytest.raises(AssertionError, match="no line matching"):
        loop.expect(STATUS, timeout=1.5)
    for name in (".api-config.yaml.swp", "4913"):
        (project.path / "k8s" / "overlays" / OVERLAY / name).unlink()


def test_a_second_loop_on_the_same_overlay_is_refused(project, loop, kube):
    result = project.invoke("dev", f"--overlay={OVERLAY}", ok=(1,))
    assert result.stderr.decode().splitlines() == [
        f"opskit: error: a dev loop or deploy of {OVERLAY} is already running (pid "
        f"{loop.process.pid}, lock {lock.deploy_lock(kube.context, OVERLAY)}); "
        "wait for it to finish, then run again"
    ]


def test_ctrl_c_exits_130_and_frees_the_lock(loop, kube):
    assert loop.interrupt() == 130
    assert loop.seen[-1] == "opskit: interrupted"
    with lock.exclusive(lock.deploy_lock(kube.context, OVERLAY), wait=0, what="x"):
        pass


def test_ctrl_c_during_a_deploy_lets_it_finish_first(project, kube):
    running = start(project, "--verbose")
    try:
        running.expect(r"^opskit: watching ", timeout=120)
        _save_pool_size(project, "9")
        running.expect(r"^opskit: plan: ")  # the deploy has started: the next is the apply
        running.process.signal(signal.SIGINT)
        running.expect(r"^opskit: stopping once this deploy is done")
        _, line = running.expect(STATUS)
        assert " -> applied: " in line
        assert running.wait() == 130
        assert _config(kube)["data"]["POOL_SIZE"] == "9"
    finally:
        running.stop()


def test_once_with_tests_handles_one_app_change_and_skips_the_build(project):
    running = start(project, "--once", "--test")
    try:
        running.expect(r"^opskit: watching ", timeout=120)
        (project.path / "app" / "NOTES.md").write_text("a change under app/\n")
        _, line = running.expect(STATUS)
        assert line.startswith(f"opskit: {OVERLAY} #1: app/NOTES.md -> applied: ")
        assert "; tests passed: invoke lint.elixir (" in line
        assert "; image build skipped: kwok-" in line and " runs no containers; " in line
        assert running.wait() == 0
    finally:
        running.stop()
