"""The live comparison (`manifests.diff --live`, `status`): what reaches the server dry run,
what is left out, and how its answer reads.

The render is real; the cluster side is a stand-in Kube that records its argv and answers
as the API server would (the e2e suite runs the same comparison against the kwok cluster).
"""

from __future__ import annotations

import json

import pytest

from opskit.core.errors import CommandFailed
from opskit.core.shell import Result
from opskit.diff import live
from opskit.manifests import kustomize
from opskit.secrets import sops

SERVED = "v1\napps/v1\nbatch/v1\nnetworking.k8s.io/v1\npolicy/v1\n"


class StandInKube:
    """Answers `api-versions`, `get namespace`, the dry run (the objects as sent, merged)
    and the read of the live objects (`live`, by kind/name)."""

    context = "kwok-test"

    def __init__(self, live_objects: list[dict], namespace_exists: bool = True) -> None:
        self.live = live_objects
        self.namespace_exists = namespace_exists
        self.calls: list[tuple[tuple[str, ...], dict]] = []

    def run(self, *args: str, **options) -> Result:
        self.calls.append((args, options))
        if args == ("api-versions",):
            return Result(0, SERVED, "")
        if args[:2] == ("get", "namespace"):
            return Result(0 if self.namespace_exists else 1, "", "")
        if args[0] == "apply":
            sent = kustomize.load_documents(options["stdin"].decode())
            return Result(0, json.dumps({"kind": "List", "items": sent}), "")
        wanted = {
            (o["kind"], o["metadata"]["name"]) for o in kustomize.load_documents(options["stdin"])
        }
        found = [o for o in self.live if (o["kind"], o["metadata"]["name"]) in wanted]
        return Result(0, json.dumps({"kind": "List", "items": found}), "")


@pytest.fixture(autouse=True)
def no_secrets(monkeypatch):
    """The overlay's SOPS files are left out (their key is the project's, not the tests')."""
    monkeypatch.setattr(sops, "secret_files", lambda _overlay: [])


def test_unserved_kinds_are_listed_not_sent(cfg):
    kube = StandInKube([])
    objects = kustomize.render_overlay(cfg, "dev", tag="0123456789ab")
    result = live.comparison(cfg, cfg.overlay("dev"), kube, objects)
    assert result.skipped == (
        "ServiceMonitor/api: API monitoring.coreos.com/v1 not served",
        "ServiceMonitor/telemetry: API monitoring.coreos.com/v1 not served",
    )
    args, options = next(call for call in kube.calls if call[0][0] == "apply")
    assert args == (
        "apply",
        "--server-side",
        "--force-conflicts",
        "--field-manager=opskit",
        "--dry-run=server",
        "--validate=false",
        "--output=json",
        "-f",
        "-",
    )
    sent = kustomize.load_documents(options["stdin"].decode())
    assert "ServiceMonitor" not in {o["kind"] for o in sent}
    assert f"{cfg.app.image}:0123456789ab" in options["stdin"].decode()
    assert result.changed  # nothing is live yet: every object is missing
    assert all(d.fields == ("missing in the cluster",) for d in result.drift)


def test_what_is_live_and_unchanged_is_no_difference(cfg):
    objects = kustomize.render_overlay(cfg, "prod")
    served, _ = kustomize.by_api(objects, set(SERVED.split()))
    result = live.comparison(cfg, cfg.overlay("prod"), StandInKube(served), objects)
    assert (result.changed, result.drift, result.text) == (False, (), "")


def test_one_changed_field_is_one_drift_line_and_one_hunk(cfg):
    objects = kustomize.render_overlay(cfg, "prod")
    served, _ = kustomize.by_api(objects, set(SERVED.split()))
    edited = json.loads(json.dumps(served))
    api = next(o for o in edited if o["kind"] == "Deployment" and o["metadata"]["name"] == "api")
    wanted = api["spec"]["replicas"]
    api["spec"]["replicas"] = wanted + 5
    result = live.comparison(cfg, cfg.overlay("prod"), StandInKube(edited), objects)
    assert [(d.ref, d.fields) for d in result.drift] == [
        ("Deployment/api", (f"spec.replicas: live {wanted + 5}, commit {wanted}",))
    ]
    assert f"-  replicas: {wanted + 5}\n+  replicas: {wanted}\n" in result.text
    assert result.text.count("--- live/") == 1


def test_a_namespace_not_there_is_one_missing_line(cfg):
    result = live.comparison(cfg, cfg.overlay("dev"), StandInKube([], namespace_exists=False))
    namespace = cfg.overlay("dev").namespace
    assert [(d.ref, d.fields) for d in result.drift] == [
        (f"Namespace/{namespace}", ("missing in the cluster",))
    ]


def test_a_kubectl_failure_is_one_actionable_error(cfg):
    class Refusing(StandInKube):
        def run(self, *args: str, **options) -> Result:
            if args[0] == "apply":
                raise CommandFailed("kubectl", args, 1, "error: the server could not find")
            return super().run(*args, **options)

    with pytest.raises(CommandFailed, match=r"`kubectl` exited with code 1"):
        live.comparison(cfg, cfg.overlay("dev"), Refusing([]))
