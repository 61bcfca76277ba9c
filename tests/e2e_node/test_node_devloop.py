"""`invoke dev` on the real node: a save to the telemetry service's source rebuilds its image,
loads it into the node's containerd and rolls a real pod that runs the new code."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
import sh

from bench.background import Running
from opskit.core import config
from tests.e2e.project import BIN, Project, make_project
from tests.e2e_node.conftest import leave_no_overlay_behind

NAMESPACE = config.load().overlay("dev").namespace
SOURCE = "services/telemetry/src/telemetry/__init__.py"
STATUS = r"^opskit: dev #\d+: "
WAIT = 900  # s: a first deploy of the dev overlay builds and loads its images


@pytest.fixture(scope="module")
def project(tmp_path_factory, real_cluster) -> Iterator[Project]:
    project = make_project(tmp_path_factory.mktemp("devloop") / "repo", real_cluster.name)
    yield project
    leave_no_overlay_behind(real_cluster.kube())


def telemetry_pods(kube) -> list[dict]:
    """The telemetry Deployment's pods that are Ready and not on their way out."""
    selector = "app.kubernetes.io/name=telemetry"
    found = kube.json("get", "pods", "-n", NAMESPACE, "-l", selector, timeout=30)["items"]
    return [
        p
        for p in found
        if not p["metadata"].get("deletionTimestamp")
        and any(
            c["type"] == "Ready" and c["status"] == "True"
            for c in p.get("status", {}).get("conditions") or []
        )
    ]


def test_a_saved_telemetry_source_rolls_a_real_pod_running_it(project, kube, real_cluster):
    running = Running(
        sh.Command(str(BIN / "invoke")),
        "dev",
        "--overlay=dev",
        "--once",
        "--timeout=600",
        cwd=project.path,
        env=project.env,
    )
    try:
        running.expect(r"^opskit: watching k8s/, app/, services/telemetry/, opskit\.yaml", WAIT)
        first = next(line for line in running.seen if line.startswith("opskit: dev #0: "))
        assert " -> applied: " in first, running.tail()
        (before,) = telemetry_pods(kube)
        mark = uuid.uuid4().hex
        source = project.path / SOURCE
        source.write_text(source.read_text() + f'\nDEV_LOOP_MARK = "{mark}"\n')
        _, line = running.expect(STATUS, WAIT)
        assert line.startswith(f"opskit: dev #1: {SOURCE} -> applied: "), running.tail()
        assert "image rebuilt and loaded (services/telemetry/ changed)" in line
        assert "rolled out " in line and "deployment/telemetry" in line.split("; rolled out ")[1]
        assert running.wait(timeout=120) == 0
    finally:
        running.stop()
    now = telemetry_pods(kube)
    assert now and all(p["metadata"]["name"] != before["metadata"]["name"] for p in now)
    pod = now[0]
    assert pod["spec"]["nodeName"] == real_cluster.real_node().name
    old_image, new_image = (p["spec"]["containers"][0]["image"] for p in (before, pod))
    assert "-dirty-" in new_image and new_image != old_image
    old_id, new_id = (p["status"]["containerStatuses"][0]["containerID"] for p in (before, pod))
    assert new_id.startswith("containerd://") and new_id != old_id
    code = "import telemetry; print(telemetry.DEV_LOOP_MARK)"
    ran = kube.run("exec", "-n", NAMESPACE, pod["metadata"]["name"], "--", "python", "-c", code)
    assert ran.stdout.strip() == mark  # the new container runs the saved source
