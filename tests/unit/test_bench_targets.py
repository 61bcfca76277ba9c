"""bench.targets: every target evaluated; a miss reads NOT MET, a gap NOT MEASURED."""

import pytest

from bench import targets
from bench.targets import MET, NOT_MEASURED, NOT_MET, Target


def by_metric(outcomes):
    return {o.target.metric: o for o in outcomes}


ALL_MET = {
    "deploy_vs_raw": 1.05,
    "noop_vs_floor": 1.3,
    "noop_seconds": 0.35,
    "validate_vs_raw": 1.4,
    "diff_vs_render": 1.8,
    "list_seconds": 0.3,
    "devloop_seconds": 1.1,
    "devloop_vs_deploy": 0.6,
    "growth_deploy": "linear",
    "growth_validate": "sublinear",
    "gitops_commit_seconds": 3.2,
    "argocd_noop_seconds": 0.6,
    "node_up_seconds": 14.0,
    "node_deploy_vs_raw": 1.02,
    "node_noop_seconds": 0.35,
    "node_image_vs_raw": 1.05,
}


def test_every_issue_target_is_present_with_its_limit():
    limits = {t.metric: (t.op, t.limit) for t in targets.TARGETS}
    assert limits == {
        "deploy_vs_raw": ("<=", 1.10),
        "noop_vs_floor": ("<=", 1.5),  # issue 20: against the floor the bench measures
        "noop_seconds": ("<", 0.4),
        "validate_vs_raw": ("<=", 1.5),
        "diff_vs_render": ("<=", 2.0),
        "list_seconds": ("<", 0.4),
        "devloop_seconds": ("<", 2.0),
        "devloop_vs_deploy": ("<=", 1.0),
        "growth_deploy": ("shape", None),
        "growth_validate": ("shape", None),
        "gitops_commit_seconds": ("<", 5.0),
        "argocd_noop_seconds": ("<", 1.0),
        # issue 29: the embedded cluster's real node
        "node_up_seconds": ("<=", 20.0),
        "node_deploy_vs_raw": ("<=", 1.05),
        "node_noop_seconds": ("<", 0.4),
        "node_image_vs_raw": ("<=", 1.10),
    }


def test_all_met():
    assert all(o.status == MET for o in targets.evaluate(ALL_MET))


@pytest.mark.parametrize(
    ("metric", "value"),
    [
        ("deploy_vs_raw", 1.11),
        ("noop_vs_floor", 1.51),
        ("noop_seconds", 0.4),  # strictly under 400 ms
        ("validate_vs_raw", 1.51),
        ("list_seconds", 0.4),  # strictly under 0.4 s
        ("node_up_seconds", 20.01),
        ("node_deploy_vs_raw", 1.06),
        ("node_noop_seconds", 0.4),
        ("node_image_vs_raw", 1.11),
        ("growth_deploy", "superlinear"),
        ("growth_validate", "superlinear"),
        ("gitops_commit_seconds", 5.0),
        ("argocd_noop_seconds", 1.0),
    ],
)
def test_a_missed_target_is_not_met(metric, value):
    outcome = by_metric(targets.evaluate({**ALL_MET, metric: value}))[metric]
    assert outcome.status == NOT_MET
    assert not outcome.met


def test_limits_are_inclusive_for_ratios():
    outcome = by_metric(targets.evaluate({**ALL_MET, "deploy_vs_raw": 1.10}))["deploy_vs_raw"]
    assert outcome.status == MET


def test_a_missing_measurement_is_not_measured_not_met():
    outcomes = by_metric(
        targets.evaluate({k: v for k, v in ALL_MET.items() if k != "noop_seconds"})
    )
    assert outcomes["noop_seconds"].status == NOT_MEASURED
    assert not outcomes["noop_seconds"].met


def test_unknown_comparison_is_a_bug():
    with pytest.raises(ValueError, match="unknown comparison"):
        targets.check(Target("x", "x", "==", 1.0), 1.0)


@pytest.mark.parametrize(
    ("value", "unit", "text"),
    [
        (1.0712, "x", "1.07x"),
        (0.3124, "s", "312 ms"),
        (1.844, "s", "1.84 s"),
        ("linear", "", "linear"),
        (None, "s", "-"),
    ],
)
def test_format_value(value, unit, text):
    assert targets.format_value(value, unit) == text


def test_outcome_as_dict_carries_status():
    outcome = targets.check(targets.TARGETS[0], 1.5)
    assert outcome.as_dict() == {
        "name": "deploy overhead vs raw commands",
        "metric": "deploy_vs_raw",
        "op": "<=",
        "limit": 1.10,
        "unit": "x",
        "value": 1.5,
        "status": "NOT MET",
    }
