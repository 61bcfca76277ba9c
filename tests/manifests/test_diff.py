"""`manifests.diff`: what reaches `kubectl diff`, and how its exit codes read.

The render is real; the cluster side is a stand-in Kube that records its argv (the e2e
suite runs the same diff against the kwok cluster).
"""

from __future__ import annotations

import pytest

from opskit.core.errors import OpsError
from opskit.core.shell import Result
from opskit.manifests import kustomize

SERVED = "v1\napps/v1\nbatch/v1\nnetworking.k8s.io/v1\npolicy/v1\n"


class StandInKube:
    context = "kwok-test"

    def __init__(self, diff_result: Result) -> None:
        self.diff_result = diff_result
        self.calls: list[tuple[tuple[str, ...], dict]] = []

    def run(self, *args: str, **options) -> Result:
        self.calls.append((args, options))
        return Result(0, SERVED, "") if args == ("api-versions",) else self.diff_result


def test_unserved_kinds_are_listed_not_sent(cfg):
    kube = StandInKube(Result(1, "diff -u ...", ""))
    result = kustomize.diff(cfg, "dev", kube, tag="0123456789ab")
    assert (result.changed, result.text) == (True, "diff -u ...")
    assert result.skipped == (
        "ServiceMonitor/api: API monitoring.coreos.com/v1 not served",
        "ServiceMonitor/telemetry: API monitoring.coreos.com/v1 not served",
    )
    args, options = kube.calls[1]
    assert args == (
        "diff",
        "--server-side",
        "--force-conflicts",
        "--field-manager=opskit",
        "-f",
        "-",
    )
    sent = kustomize.load_documents(options["stdin"])
    assert "ServiceMonitor" not in {o["kind"] for o in sent}
    assert f"{cfg.app.image}:0123456789ab" in options["stdin"]
    assert options["check"] is False


def test_no_differences(cfg):
    assert not kustomize.diff(cfg, "prod", StandInKube(Result(0, "", ""))).changed


def test_a_kubectl_failure_is_one_actionable_error(cfg):
    kube = StandInKube(Result(2, "", "error: the server could not find the resource\n"))
    with pytest.raises(OpsError, match=r"`kubectl diff` failed \(exit 2\): error: the server"):
        kustomize.diff(cfg, "dev", kube)
