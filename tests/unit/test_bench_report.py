"""bench.results + bench.report: from samples to results.json / results.md (pure)."""

import json

from bench import raw, report, results

META = {
    "date": "2025-01-01T00:00:00+00:00",
    "host": "ci",
    "python": "3.11.9",
    "cpus": 4,
    "commit": "abcdef012345",
    "cluster": "kwok-gitops-lab-bench",
    "runs": 3,
    "growth_runs": 2,
}
SAMPLES = {
    "python_pass": [0.02, 0.021, 0.019],
    "invoke_list": [0.30, 0.35, 0.31],
    "invoke_doctor": [0.9, 1.0, 0.95],
    "validate_all": [1.0, 1.2, 1.1],
    "raw_render_all": [0.5, 0.6, 0.55],
    "deploy_first": [3.0, 3.3, 3.1],
    "deploy_noop": [0.45, 0.42, 0.48],
    "noop_floor": [0.3, 0.32, 0.31],
    "raw_deploy": [2.5, 2.7, 2.6],
    "growth_deploy_1": [3.0, 3.2],
    "growth_deploy_4": [3.6, 3.7],
    "growth_deploy_16": [6.0, 6.1],
    "growth_validate_1": [1.0, 1.0],
    "growth_validate_4": [1.05, 1.05],
    "growth_validate_16": [1.2, 1.2],
}


def built():
    return results.build(SAMPLES, META, ["a note"])


def status(document, metric):
    return next(t["status"] for t in document["targets"] if t["metric"] == metric)


def test_measurements_summarize_and_label():
    found = built()["measurements"]
    assert found["deploy_first"]["median"] == 3.1
    assert found["deploy_first"]["min"] == 3.0
    assert found["deploy_first"]["max"] == 3.3
    assert found["growth_deploy_16"]["label"] == (
        "`invoke deploy` with 16 app Deployment(s), fresh namespace"
    )


def test_ratios_and_targets():
    document = built()
    ratios = {c["metric"]: c["ratio"] for c in document["comparisons"]}
    assert round(ratios["deploy_vs_raw"], 3) == round(3.1 / 2.6, 3)
    assert status(document, "deploy_vs_raw") == "NOT MET"  # 1.19x > 1.10x
    assert round(ratios["noop_vs_floor"], 3) == round(0.45 / 0.31, 3)
    assert status(document, "noop_vs_floor") == "met"  # 1.45x <= 1.5x: against its floor
    assert status(document, "noop_seconds") == "NOT MET"  # 450 ms, not < 400 ms
    assert status(document, "validate_vs_raw") == "NOT MET"  # 2.0x > 1.5x
    assert status(document, "list_seconds") == "met"
    assert status(document, "growth_deploy") == "met"
    assert status(document, "growth_validate") == "met"


def test_growth_overhead_is_suite_minus_raw_per_size():
    samples = {
        **SAMPLES,
        "growth_raw_1": [2.5, 2.5],
        "growth_raw_4": [3.0, 3.0],
        "growth_raw_16": [5.5, 5.5],
    }
    overhead = results.build(samples, META, [])["growth"]["overhead"]
    assert overhead["sizes"] == (1, 4, 16)
    assert [round(m, 3) for m in overhead["medians"]] == [0.6, 0.65, 0.55]
    assert overhead["shape"] != "superlinear"


def test_missing_figures_are_not_measured():
    document = results.build({"python_pass": [0.02]}, META, [])
    assert {t["status"] for t in document["targets"]} == {"NOT MEASURED"}


def test_markdown_shows_not_met_in_bold_and_every_table():
    text = report.to_markdown(built())
    assert "| deploy overhead vs raw commands | 1.19x | <= 1.10x | **NOT MET** |" in text
    assert "| `invoke --list` wall time | 310 ms | < 400 ms | met |" in text
    assert "| deploy vs raw commands | 3.10 s | 2.60 s | 1.19x | 500 ms |" in text
    assert (
        "- **deploy**: 197 ms per added workload (steps: 183 ms, 200 ms); growth is linear" in text
    )
    assert "| app Deployments | deploy | validate |" in text
    assert "| 16 | 6.05 s | 1.20 s |" in text
    assert "## All timings" in text
    assert "- a note" in text


def test_json_round_trips():
    document = built()
    assert json.loads(report.to_json(document)) == json.loads(json.dumps(document))


RENDERED = """apiVersion: v1
kind: Namespace
metadata:
  name: ns
---
apiVersion: apps/v1
kind: Deployment
metadata:
  labels:
    app.kubernetes.io/name: api
  name: api
  namespace: ns
spec:
  template:
    metadata:
      name: ignored
    spec:
      containers:
      - image: localhost:5000/gitops-lab/api:000000000000
---
apiVersion: monitoring.coreos.com/v1
kind: ServiceMonitor
metadata:
  name: api
---
apiVersion: apps/v1
kind: StatefulSet
metadata:
  name: postgres
"""


def test_raw_workloads_are_deployments_and_statefulsets():
    assert raw.workloads(RENDERED) == ["deployment/api", "statefulset/postgres"]


def test_raw_drop_unserved_keeps_served_api_versions():
    kept = raw.drop_unserved(RENDERED, {"v1", "apps/v1"})
    assert "ServiceMonitor" not in kept
    assert [d.split("\n")[1] for d in raw.documents(kept)] == [
        "kind: Namespace",
        "kind: Deployment",
        "kind: StatefulSet",
    ]


def test_raw_pin_replaces_the_placeholder_tag_of_every_image():
    rendered = RENDERED + "---\nimage: localhost:5000/gitops-lab/telemetry:000000000000\n"
    images = ("localhost:5000/gitops-lab/api", "localhost:5000/gitops-lab/telemetry")
    pinned = raw.pin(rendered, images, "0123456789ab")
    assert "localhost:5000/gitops-lab/api:0123456789ab" in pinned
    assert "localhost:5000/gitops-lab/telemetry:0123456789ab" in pinned
    assert "000000000000" not in pinned


def test_the_closing_line_tells_not_met_from_not_measured():
    from bench.__main__ import verdict

    line = verdict(built()["targets"])
    not_met, not_measured = line.split(". ")
    assert not_met.startswith("3 NOT MET: ") and "no-op redeploy wall time" in not_met
    assert not_measured.startswith("9 NOT MEASURED: ") and "dev loop" in not_measured
    measured_nothing = verdict(results.build({}, META, [])["targets"])
    assert "NOT MET" not in measured_nothing and measured_nothing.startswith("16 NOT MEASURED: ")


def test_default_polling_is_side_by_side_with_the_refresh():
    samples = {
        "gitops_commit_refresh": [2.0, 2.2, 2.1],
        "gitops_commit_poll": [6.0, 7.0, 6.5],
        "gitops_commit_default_poll": [150.0, 95.0, 210.0],
    }
    document = results.build(samples, META, [])
    rows = {c["metric"]: c for c in document["comparisons"]}
    assert rows["refresh_vs_default_poll"]["baseline"] == "gitops_commit_default_poll"
    assert round(rows["refresh_vs_default_poll"]["ratio"], 4) == round(2.1 / 150.0, 4)
    text = report.to_markdown(document)
    assert (
        "| commit -> healthy: refresh vs ArgoCD's default polling | 2.10 s | 150.00 s | 0.01x |"
        in text
    )
    assert "| commit -> ArgoCD Synced/Healthy by ArgoCD's default polling (resync 120 s" in text


def test_the_gitops_target_is_judged_on_real_pods_where_they_were_measured():
    kwok_only = {"gitops_commit_refresh": [2.0, 2.2, 2.1]}
    both = {**kwok_only, "gitops_node_release_wait": [7.0, 6.0, 8.0]}

    def judged(samples):
        targets = results.build(samples, META, [])["targets"]
        return next(t for t in targets if t["metric"] == "gitops_commit_seconds")

    assert (judged(kwok_only)["value"], judged(kwok_only)["status"]) == (2.1, "met")
    assert (judged(both)["value"], judged(both)["status"]) == (7.0, "NOT MET")
    text = report.to_markdown(results.build(both, META, []))
    assert "real pods: `invoke release` + `invoke argocd.wait --revision`" in text
