"""bench/node.py + bench/noderaw.py: the real-node scenario's pure parts, its one-line
failure where containers cannot run, and an `--only` run folded into the committed results."""

import json
from pathlib import Path

import pytest
import yaml

from bench import node, noderaw, report, results
from bench.workspace import BenchError, Workspace

STATEFULSET = """\
apiVersion: apps/v1
kind: StatefulSet
metadata:
  name: postgres
spec:
  replicas: 2
  volumeClaimTemplates:
    - metadata:
        name: data
      spec:
        resources:
          requests:
            storage: 2Gi
    - metadata:
        name: other
      spec:
        storageClassName: fast
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: redis
"""


def test_claims_are_one_per_replica_of_the_default_storage_class():
    assert noderaw.claims(STATEFULSET, "ns") == [
        ("ns", "data-postgres-0", "2Gi"),
        ("ns", "data-postgres-1", "2Gi"),
    ]


def test_local_volume_is_pre_bound_to_its_claim_on_the_real_node():
    volume = noderaw.local_volume(("ns", "data-postgres-0", "2Gi"), Path("/v/ns/d"), "n-real")
    spec = volume["spec"]
    assert spec["claimRef"] == {"namespace": "ns", "name": "data-postgres-0"}
    assert spec["local"] == {"path": "/v/ns/d"} and spec["capacity"] == {"storage": "2Gi"}
    term = spec["nodeAffinity"]["required"]["nodeSelectorTerms"][0]["matchExpressions"][0]
    assert term["values"] == ["n-real"] and spec["storageClassName"] == "standard"


def test_raw_apply_sends_the_namespace_and_what_pods_need_before_the_workloads():
    stream = "---\n".join(
        f"apiVersion: v1\nkind: {kind}\nmetadata:\n  name: {name}\n"
        for kind, name in (
            ("Deployment", "a"),
            ("Secret", "s1"),
            ("Namespace", "ns"),
            ("StatefulSet", "b"),
            ("Secret", "s2"),
            ("PersistentVolume", "pv"),
        )
    )
    names = [yaml.safe_load(d)["metadata"]["name"] for d in noderaw.ordered(stream).split("---\n")]
    assert names == ["ns", "s1", "s2", "pv", "a", "b"]


def test_raw_kustomization_adds_the_components_by_relative_path(tmp_path):
    folder = tmp_path / "render"
    body = json.loads(
        noderaw.kustomization(
            tmp_path / "repo/k8s/overlays/x", (tmp_path / "repo/k8s/components/c",), folder
        )
    )
    assert body["resources"] == ["../repo/k8s/overlays/x"]
    assert body["components"] == ["../repo/k8s/components/c"]


def test_raw_build_is_the_dockerfile_as_it_is_on_the_local_base():
    argv = noderaw.bud_argv("r:t", Path("ctx"), "base:1", "abc", Path("/w/pip.conf"))
    assert argv[:4] == ["bud", "--quiet", "--layers", "--network=host"]
    assert "PYTHON_IMAGE=base:1" in argv and "REVISION=abc" in argv
    assert argv[-3:] == ["-t", "r:t", "ctx"]


def test_the_cold_store_is_a_store_of_its_own(tmp_path):
    conf = node.storage_conf(tmp_path)
    assert f'graphroot = "{tmp_path}/root"' in conf and f'runroot = "{tmp_path}/run"' in conf


def test_one_line_change_appends_a_comment(tmp_path):
    source = tmp_path / "m.py"
    source.write_text("x = 1\n")
    node.edit(source, "node_image_raw 2")
    assert source.read_text() == "x = 1\n# bench: node_image_raw 2\n"


def test_every_first_deploy_has_a_fresh_namespace():
    suite, baseline = node.slots(3)
    namespaces = [s.namespace for s in (*suite, *baseline)]
    assert len(suite) == len(baseline) == 4 and len(set(namespaces)) == 8


def test_the_node_workspace_asks_for_a_real_node(tmp_path):
    ws = node.workspace(tmp_path)
    assert ws.env["OPSKIT_KWOK_NODE"] == "real" and ws.context == "kwok-bench-node"
    socket = ws.repo / ".opskit/clusters" / ws.context / "node/containerd/containerd.sock"
    # below /tmp/glb-XXXXXXXX/ as the bench makes it: under containerd's 100 bytes
    assert len(str(socket).replace(str(tmp_path), "/tmp/glb-abcdefgh")) < 100


def test_a_machine_without_containers_fails_in_one_line(tmp_path, monkeypatch):
    ws = node.workspace(tmp_path)

    def refuse(*_args, **_kwargs):
        raise BenchError(
            "`invoke cluster.up --provider kwok` failed (exit 1):\n"
            "opskit: error: cluster.kwok.node is real, but not root (the kubelet ...)\n"
            "  hint: fix that, or set cluster.kwok.node: auto"
        )

    monkeypatch.setattr(Workspace, "invoke", refuse)
    with pytest.raises(node.NodeUnavailable) as caught:
        node.up(ws, first=True)
    assert len(str(caught.value).splitlines()) == 1
    assert "cluster.kwok.node is real, but not root" in str(caught.value)
    with pytest.raises(BenchError) as later:  # a later up is a failure, not "cannot run"
        node.up(ws)
    assert not isinstance(later.value, node.NodeUnavailable)


def test_only_node_that_cannot_run_exits_1_and_keeps_the_results(tmp_path, monkeypatch, capsys):
    from bench import __main__ as cli

    committed = '{"committed": true}\n'
    (tmp_path / "results.json").write_text(committed)

    def cannot(*_args, **_kwargs):
        raise node.NodeUnavailable("`invoke cluster.up` with a real node failed: not root")

    monkeypatch.setattr(node, "run", cannot)
    monkeypatch.setattr(cli.signal, "signal", lambda *_args: None)
    monkeypatch.setattr(cli.tempfile, "tempdir", str(tmp_path))  # its scratch folders
    assert cli.main(["--only", "node", "--out", str(tmp_path)]) == 1
    err = capsys.readouterr().err
    assert err == (
        "python -m bench: error: node not measured: `invoke cluster.up` with a real node "
        "failed: not root\n"
    )
    assert (tmp_path / "results.json").read_text() == committed


def test_gitops_node_runs_after_the_kwok_cluster_is_down(tmp_path, monkeypatch):
    """Its figures are measured with no second control plane idling beside the real node's:
    the kwok scenarios' cluster is torn down before, and `--only gitops-node` starts none."""
    from bench import __main__ as cli
    from bench import gitops

    calls: list[str] = []
    monkeypatch.setattr(cli, "_setup", lambda ws: calls.append("kwok up"))
    monkeypatch.setattr(cli, "measure", lambda ws, args, notes: calls.append("kwok figures") or {})
    monkeypatch.setattr(cli, "_teardown", lambda ws, tmp, keep: calls.append("kwok down"))
    monkeypatch.setattr(gitops, "node_workspace", lambda cluster: calls.append("node ws"))
    monkeypatch.setattr(gitops, "measure_node", lambda ws, runs, s: s.update(gitops_x=[1.0]))
    monkeypatch.setattr(gitops, "teardown_node", lambda ws: calls.append("node down"))
    monkeypatch.setattr(cli.signal, "signal", lambda *_args: None)
    monkeypatch.setattr(cli, "write", lambda args, document: calls.append("written"))
    monkeypatch.setattr(cli.tempfile, "tempdir", str(tmp_path))  # its scratch folders

    assert cli.main(["--only", "gitops-node", "--out", str(tmp_path)]) == 0
    assert calls == ["node ws", "node down", "written"]
    calls.clear()
    assert cli.main(["--only", "gitops", "--only", "gitops-node", "--out", str(tmp_path)]) == 0
    assert calls == ["kwok up", "kwok figures", "kwok down", "node ws", "node down", "written"]


PREVIOUS = {
    "meta": {"date": "d0", "commit": "c0", "runs": 5, "took_seconds": 900.0},
    "measurements": {
        "deploy_first": {"samples": [1.0, 1.2]},
        "node_up": {"samples": [30.0]},
    },
    "notes": ["node not measured: no root", "deploy: a note that stays"],
}
NOW = {"date": "d1", "commit": "c1", "runs": 3, "took_seconds": 600.0, "host": "vm"}


def test_an_only_run_keeps_the_other_figures_and_replaces_its_own():
    samples, meta, notes = results.merge(PREVIOUS, {"node_up": [14.0]}, NOW, ["node: n"], ["node"])
    assert samples == {"deploy_first": [1.0, 1.2], "node_up": [14.0]}
    assert meta["date"] == "d0" and meta["commit"] == "c0"  # the full run's
    assert meta["partial_runs"] == [
        {"scenarios": ["node"], "date": "d1", "commit": "c1", "runs": 3, "took_seconds": 600.0}
    ]
    assert notes == ["deploy: a note that stays", "node: n"]


def test_a_second_only_run_replaces_the_first_ones_line():
    _, first, _ = results.merge(PREVIOUS, {}, NOW, [], ["node"])
    again = {**PREVIOUS, "meta": first}
    _, meta, _ = results.merge(again, {}, {**NOW, "date": "d2"}, [], ["node"])
    assert [r["date"] for r in meta["partial_runs"]] == ["d2"]


def test_without_previous_results_an_only_run_stands_alone():
    assert results.merge(None, {"a": [1.0]}, NOW, ["n"], ["node"]) == ({"a": [1.0]}, NOW, ["n"])


def test_the_markdown_says_which_scenarios_were_measured_again():
    _, meta, _ = results.merge(PREVIOUS, {}, NOW, [], ["node"])
    document = results.build(
        {"node_up": [14.0]},
        {**meta, "host": "vm", "python": "3", "cpus": 2, "cluster": "k", "growth_runs": 3},
        [],
    )
    text = report.to_markdown(document)
    assert (
        "Scenario(s) `node` measured again alone (`python -m bench --only node`) on d1, "
        "commit c1, median of 3 runs." in text
    )
    assert yaml.safe_load(report.to_json(document))["meta"]["partial_runs"][0]["commit"] == "c1"


def test_real_node_figures_are_labelled_and_judged():
    document = results.build(
        {
            "node_up": [14.0, 15.0, 16.0],
            "node_deploy_first": [20.0],
            "node_raw_deploy": [20.0],
            "node_deploy_noop": [0.5],
            "node_noop_floor": [0.4],
            "node_image_rebuild": [32.0],
            "node_image_raw": [30.0],
        },
        {},
        [],
    )
    status = {t["metric"]: (t["value"], t["status"]) for t in document["targets"]}
    assert status["node_up_seconds"] == (15.0, "met")
    assert status["node_deploy_vs_raw"] == (1.0, "met")
    assert status["node_noop_seconds"] == (0.5, "NOT MET")
    assert status["node_image_vs_raw"] == (pytest.approx(32 / 30), "met")
    labels = [m["label"] for k, m in document["measurements"].items()]
    assert all(label.startswith("real node: ") for label in labels)


def test_phases_split_the_release_at_the_moments_seen():
    from bench import gitops

    seen = {"released": 0.4, "detect": 1.0, "sync": 2.0, "healthy": 3.0}
    assert gitops.phase_split(seen, 3.25) == pytest.approx([0.4, 0.6, 1.0, 1.0, 0.25])


def test_a_moment_the_watch_saw_late_is_bounded_by_the_ones_after_it():
    """The watch printed Healthy 9 ms after `argocd.wait` exited: the wait cannot exit
    before Healthy, so Healthy is bounded by the exit and no phase is negative."""
    from bench import gitops

    seen = {"released": 0.36, "detect": 1.0, "sync": 2.5, "healthy": 3.009}
    split = gitops.phase_split(seen, 3.0)
    assert split == pytest.approx([0.36, 0.64, 1.5, 0.5, 0.0])
    assert sum(split) == pytest.approx(3.0)


def test_no_split_when_a_moment_was_not_seen():
    from bench import gitops

    assert gitops.phase_split({"released": 0.4, "detect": 1.0, "sync": 2.0}, 3.0) is None
