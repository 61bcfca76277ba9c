"""The issue's targets and their evaluation: a target not met says NOT MET, never less."""

from __future__ import annotations

from dataclasses import dataclass

MET, NOT_MET, NOT_MEASURED = "met", "NOT MET", "NOT MEASURED"


@dataclass(frozen=True)
class Target:
    name: str
    metric: str  # key in the metrics dict
    op: str  # "<=", "<" or "shape" (growth: linear or better)
    limit: float | None = None
    unit: str = ""  # "x" (ratio) or "s" (seconds)

    def describe(self) -> str:
        if self.op == "shape":
            return "linear or better"
        return f"{self.op} {format_value(self.limit, self.unit)}"


@dataclass(frozen=True)
class Outcome:
    target: Target
    value: float | str | None
    status: str

    @property
    def met(self) -> bool:
        return self.status == MET

    def as_dict(self) -> dict:
        t = self.target
        return {
            "name": t.name,
            "metric": t.metric,
            "op": t.op,
            "limit": t.limit,
            "unit": t.unit,
            "value": self.value,
            "status": self.status,
        }


TARGETS = (
    Target("deploy overhead vs raw commands", "deploy_vs_raw", "<=", 1.10, "x"),
    Target("no-op redeploy vs its floor", "noop_vs_floor", "<=", 1.5, "x"),
    Target("no-op redeploy wall time", "noop_seconds", "<", 0.4, "s"),
    Target("validate all overlays vs raw kustomize", "validate_vs_raw", "<=", 1.5, "x"),
    Target("offline diff of two commits vs rendering once", "diff_vs_render", "<=", 2.0, "x"),
    Target("`invoke --list` wall time", "list_seconds", "<", 0.4, "s"),
    Target("dev loop: save -> rolled out", "devloop_seconds", "<", 2.0, "s"),
    Target("dev loop vs a one-line-change deploy", "devloop_vs_deploy", "<=", 1.0, "x"),
    Target("deploy growth 1 -> 32 workloads", "growth_deploy", "shape"),
    Target("validate growth 1 -> 32 workloads", "growth_validate", "shape"),
    Target("commit -> ArgoCD Synced/Healthy (median)", "gitops_commit_seconds", "<", 5.0, "s"),
    Target("`invoke argocd.install` no-op", "argocd_noop_seconds", "<", 1.0, "s"),
    Target(
        "real node: `cluster.up`, binaries and images present", "node_up_seconds", "<=", 20.0, "s"
    ),
    Target("real node: first deploy vs raw commands", "node_deploy_vs_raw", "<=", 1.05, "x"),
    Target("real node: no-op redeploy wall time", "node_noop_seconds", "<", 0.4, "s"),
    Target(
        "real node: telemetry rebuild + load vs buildah bud + import",
        "node_image_vs_raw",
        "<=",
        1.10,
        "x",
    ),
)


def check(target: Target, value: float | str | None) -> Outcome:
    """One target against its measured value (None: the measurement did not complete)."""
    if value is None:
        return Outcome(target, None, NOT_MEASURED)
    if target.op == "shape":
        ok = value in ("linear", "sublinear")
    elif target.op == "<=":
        ok = float(value) <= target.limit
    elif target.op == "<":
        ok = float(value) < target.limit
    else:
        raise ValueError(f"unknown comparison {target.op!r}")
    return Outcome(target, value, MET if ok else NOT_MET)


def evaluate(metrics: dict[str, float | str | None], targets=TARGETS) -> list[Outcome]:
    return [check(t, metrics.get(t.metric)) for t in targets]


def format_value(value: float | str | None, unit: str) -> str:
    """`1.07x`, `312 ms`, `1.84 s`; shapes as they are; `-` when missing."""
    if value is None:
        return "-"
    if isinstance(value, str):
        return value
    if unit == "x":
        return f"{value:.2f}x"
    if unit == "s":
        return f"{value * 1000:.0f} ms" if value < 1 else f"{value:.2f} s"
    return f"{value:g}"
