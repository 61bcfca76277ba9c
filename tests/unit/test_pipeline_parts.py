"""The deploy pipeline's small steps on their own: the server's answer plus what was not
sent, the record kept after a deploy, the closing summary, the checks that stop a deploy
before anything is applied."""

from __future__ import annotations

import base64
import dataclasses
import json
import secrets

import pytest

from opskit.clusters.connect import Connection
from opskit.core import config, shell
from opskit.core.errors import CommandFailed, OpsError
from opskit.deploy import pipeline, restore, rollback
from opskit.kube import applied, rollout
from opskit.kube.kubectl import Kube
from opskit.kube.ref import ObjectRef
from tests import fakes
from tests.unit.apiserver import ApiServer

CONFIG = {
    "apiVersion": "v1",
    "kind": "ConfigMap",
    "metadata": {"name": "api-config", "namespace": "gitops-lab-dev"},
    "data": {"POOL_SIZE": "5"},
}
KEPT = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "api", "namespace": "x"}}


@pytest.fixture
def plan(root, tmp_path, monkeypatch):
    """A plan of one ConfigMap for dev, against a kubeconfig that does not exist (kubectl is
    answered by the test); state in tmp_path."""
    monkeypatch.setenv("OPSKIT_STATE_DIR", str(tmp_path / "state"))
    kube = Kube(tmp_path / "kubeconfig", "kwok-gitops-lab")

    def make(private: list[bytes], unchanged=()) -> pipeline.Plan:
        return pipeline.Plan(
            overlay=config.load(root / "opskit.yaml").overlay("dev"),
            target=Connection(kube, None),
            image="api:0123456789ab",
            commit="0123456789ab" + "0" * 28,
            objects=[CONFIG],
            unserved=[],
            private=private,
            before={},
            prints={ObjectRef.of(CONFIG): "sha256:fingerprint"},
            unchanged=unchanged,
            identities=({k: CONFIG[k] for k in ("apiVersion", "kind", "metadata")},),
        )

    return make


def test_the_answer_and_the_objects_not_sent_are_one_list():
    output = json.dumps({"kind": "List", "items": [CONFIG, {}]})
    assert json.loads(pipeline._with_unchanged(output, (KEPT,))) == {
        "apiVersion": "v1",
        "kind": "List",
        "items": [CONFIG, KEPT],  # an empty item (nothing applied) dropped
    }
    assert json.loads(pipeline._with_unchanged("{}", (KEPT,)))["items"] == [KEPT]


@pytest.mark.parametrize("private", [[], [b"kind: Secret\n"]])
def test_a_deploy_that_sent_objects_records_them(plan, private):
    server = ApiServer([CONFIG])
    with fakes.recorder({"kubectl": server}):
        pipeline._remember(plan(private), "{}")
    record = applied.load("kwok-gitops-lab", "dev")
    assert list(record) == [ObjectRef.of(CONFIG)]
    assert record[ObjectRef.of(CONFIG)]["fingerprint"] == "sha256:fingerprint"


def test_a_deploy_that_sent_nothing_writes_no_record(plan):
    with fakes.recorder({"kubectl": ApiServer([CONFIG])}) as calls:
        pipeline._remember(plan([], unchanged=(CONFIG,)), "{}")
    assert calls == [] and applied.load("kwok-gitops-lab", "dev") == {}


def test_the_summary_names_each_workload_its_revision_and_images_and_the_urls(plan):
    pods = (("app", "api"),)
    api = rollout.Workload("Deployment", "api", 3, 7, True, pods, ("api:1", "proxy:2"))
    lines: list[str] = []
    pipeline._summary(plan([]), {api.ref: api}, lines.append)
    assert lines == [
        "running: deployment/api revision 7 image api:1, proxy:2",
        "url: https://api.dev.gitops-lab.localhost/api/health",
    ]


def test_a_decrypted_secret_that_breaks_the_schema_stops_the_deploy_with_its_value_masked(root):
    cfg = config.load(root / "opskit.yaml")
    dev = cfg.overlay("dev")
    secret = (
        "apiVersion: v1\nkind: Secret\nmetadata: {name: api-secrets, namespace: gitops-lab-dev}\n"
        "stringData: {PASSWORD: hunter2-very-secret}\nbogus: hunter2-very-secret\n"
    )
    stray = "apiVersion: v1\nkind: Secret\nmetadata: {name: stray}\n"
    shell.secret("hunter2-very-secret")
    pipeline._check_private(cfg, dev, [])  # nothing decrypted: nothing to check
    with pytest.raises(OpsError) as caught:
        pipeline._check_private(cfg, dev, [secret.encode(), stray.encode()])
    lines = caught.value.message.splitlines()
    assert lines[0] == "dev: 2 problem(s) in decrypted Secrets, nothing applied:"
    assert len(lines) == 3 and "bogus" in lines[1] and "hunter2" not in lines[1]
    assert lines[2] == (
        "dev/Secret/stray: metadata.namespace: is not set; a Secret of dev names gitops-lab-dev"
    )
    assert caught.value.hint == "fix them with `invoke secrets.edit`"


def test_invalid_objects_stop_the_plan_with_one_line_each(root, tmp_path, monkeypatch):
    monkeypatch.setenv("OPSKIT_STATE_DIR", str(tmp_path / "state"))
    cfg = config.load(root / "opskit.yaml")
    dev = cfg.overlay("dev")
    broken = [
        {**CONFIG, "bogus": 1},
        {**CONFIG, "metadata": {**CONFIG["metadata"], "name": "other"}, "extra": 2},
    ]
    with pytest.raises(OpsError) as caught:
        pipeline._validate(cfg, dev, broken)
    from opskit.manifests import validate

    problems = validate.validate_objects(cfg, dev, broken)  # schemas and policies
    assert any("bogus" in p for p in problems) and any("extra" in p for p in problems)
    assert caught.value.message.splitlines() == [
        f"dev: {len(problems)} validation problem(s), nothing applied:",
        *problems,
    ]
    assert caught.value.hint == "fix them and run again"
    assert not list(tmp_path.rglob("valid/*"))  # a failed validation is not remembered


def test_objects_whose_api_is_missing_fail_the_deploy_when_the_overlay_says_so(root):
    dev = config.load(root / "opskit.yaml").overlay("dev")
    unserved = [
        "ServiceMonitor/api: API monitoring.coreos.com/v1 not served; install it",
        "ServiceMonitor/telemetry: API monitoring.coreos.com/v1 not served; install it",
    ]
    lines: list[str] = []
    pipeline._report_unserved(dev, unserved, lines.append)
    assert lines == [f"warning: not applied: {line}" for line in unserved]
    with pytest.raises(OpsError) as caught:
        pipeline._report_unserved(dataclasses.replace(dev, missing_api="fail"), unserved, print)
    assert caught.value.message.splitlines() == [
        "dev: objects whose API the cluster lacks, nothing applied:",
        *unserved,
    ]
    assert caught.value.hint == "install the APIs, or set overlays.dev.missing_api: warn"


def test_each_object_whose_api_is_not_served_gets_a_line_with_what_installs_it():
    monitor = {"apiVersion": "monitoring.coreos.com/v1", "kind": "ServiceMonitor"}
    widget = {"apiVersion": "example.com/v1alpha1", "kind": "Widget"}
    objects = [
        CONFIG,
        {**monitor, "metadata": {"name": "api"}},
        {**widget, "metadata": {"name": "w"}},
    ]
    served, lines = pipeline.split_served({"v1"}, objects)
    assert served == [CONFIG]
    assert lines == [
        "ServiceMonitor/api: API monitoring.coreos.com/v1 not served by this cluster; "
        "install it with `invoke monitoring.install`",
        "Widget/w: API example.com/v1alpha1 not served by this cluster; "
        "install the CRD of example.com",
    ]


def test_the_live_secrets_a_deploy_reads_before_it_applies_are_masked(tmp_path):
    """capture() reads the objects as they are (to put them back): a live Secret's values,
    text or binary, are masked in every output from then on; a ConfigMap's are not."""
    word, note = secrets.token_hex(8), secrets.token_hex(8)
    blob = b"\xff\xfe" + secrets.token_bytes(9)  # a keystore: not UTF-8

    def b64(value: bytes) -> str:
        return base64.b64encode(value).decode()

    meta = {"name": "api-secrets", "namespace": "gitops-lab-dev"}
    live = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": meta,
        "data": {"PASSWORD": b64(word.encode()), "KEYSTORE": b64(blob)},
    }
    config_map = {**CONFIG, "data": {"NOTE": note}}
    kube = Kube(tmp_path / "kubeconfig", "kwok-gitops-lab")
    with fakes.recorder({"kubectl": ApiServer([live, config_map])}):
        before = restore.capture(kube, [live, config_map])
    assert len(before.previous) == 2 and not before.created
    shown = f"{word} {b64(word.encode())} {b64(blob)}"
    assert shell.redact(shown) == "*** *** ***"
    assert shell.redact(note) == note


WORKLOAD = rollout.Workload(
    "Deployment", "redis", 2, None, False, (("app", "redis"),), ("redis:7",), namespace="x"
)


def test_a_failed_rollout_with_nothing_of_the_deploys_to_put_back_points_at_the_diagnostics(
    root, tmp_path
):
    """The deploy sent nothing that can be put back (a PVC it created stays), and a workload
    broken live did not roll out."""
    overlay = config.load(root / "opskit.yaml").overlay("dev")
    kube, lines = Kube(tmp_path / "kubeconfig", "kwok-gitops-lab"), []
    claim = {"apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": {"name": "c"}}
    failed = rollout.RolloutFailed(WORKLOAD, "stalled")
    with fakes.recorder({"kubectl": ApiServer()}), pytest.raises(OpsError) as caught:
        rollback.after_failed_deploy(
            kube, overlay, {}, restore.Before((), (claim,)), failed, lines.append
        )
    assert str(caught.value) == (
        "deploy to dev failed: deployment/redis did not roll out: stalled; "
        "see the diagnostics above"
    )
    assert lines[0].startswith("--- diagnostics for deployment/redis")


@pytest.mark.parametrize(
    ("returncode", "stderr", "reason"),
    [
        (
            1,
            "warning: one\nError from server (Forbidden): no\n",
            "Error from server (Forbidden): no",
        ),
        (1, "", "kubectl exited with code 1"),  # kubectl said nothing
        (None, "", "kubectl timed out after 180s"),
    ],
)
def test_a_rejected_apply_names_kubectls_last_word_or_how_it_ended(
    root, tmp_path, returncode, stderr, reason
):
    overlay = config.load(root / "opskit.yaml").overlay("dev")
    kube, lines = Kube(tmp_path / "kubeconfig", "kwok-gitops-lab"), []
    why = "timed out after 180s" if returncode is None else ""
    failed = CommandFailed("kubectl", ("kubectl", "apply"), returncode, stderr, reason=why)
    with fakes.recorder({"kubectl": ApiServer()}), pytest.raises(OpsError) as caught:
        rollback.after_failed_apply(kube, overlay, {}, restore.Before((), ()), failed, lines.append)
    assert str(caught.value) == (
        f"apply to dev rejected by the API server: {reason}; restored the 0 object(s) of the "
        "plan as they were; fix the object named above and deploy again"
    )
    assert lines == [f"the API server rejected the apply: {reason}"]


def test_an_object_put_back_carries_none_of_the_servers_annotations():
    server_set = {
        "kubectl.kubernetes.io/last-applied-configuration": "{}",
        "deployment.kubernetes.io/revision": "3",
    }
    live = {**CONFIG, "metadata": {**CONFIG["metadata"], "annotations": server_set}}
    assert restore._as_applied(live)["metadata"] == CONFIG["metadata"]


def test_an_apply_of_one_object_answers_with_that_object_not_a_list():
    """kubectl prints one applied object as itself: it is kept, with the objects not sent."""
    assert json.loads(pipeline._with_unchanged(json.dumps(CONFIG), (KEPT,)))["items"] == [
        CONFIG,
        KEPT,
    ]
