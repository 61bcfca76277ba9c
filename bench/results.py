"""From raw samples to the results document: summaries, ratios, growth, targets (pure)."""

from __future__ import annotations

import re

from bench import stats, targets

LABELS = {
    "python_pass": "`python -c pass`",
    "invoke_list": "`invoke --list`",
    "invoke_doctor": "`invoke doctor`",
    "validate_all": "`invoke manifests.validate` (every overlay + argocd)",
    "raw_render_all": "`kubectl kustomize` of the same overlays",
    "diff_commits": "`invoke manifests.diff` of two commits (every overlay + argocd)",
    "diff_raw_render": "`kubectl kustomize` of each overlay, once",
    "deploy_first": "`invoke deploy`, fresh namespace",
    "deploy_noop": "`invoke deploy` again, nothing changed",
    "noop_floor": "floor of a no-op: `python -c pass` + `git rev-parse` + `sops -d` of one "
    "Secret + one `kubectl apply --server-side` of the overlay",
    "raw_deploy": "raw commands (render, sops -d, apply, rollout status), fresh namespace",
    "devloop_save_to_ready": "`invoke dev`: a saved ConfigMap value -> rolled out (status line)",
    "deploy_one_line": "`invoke deploy --allow-dirty` after the same one-line change",
    "growth_deploy": "`invoke deploy` with {n} app Deployment(s), fresh namespace",
    "growth_validate": "`invoke manifests.validate --overlay` with {n} app Deployment(s)",
    "growth_render": "`kubectl kustomize` with {n} app Deployment(s)",
    "growth_raw": "raw commands with {n} app Deployment(s), fresh namespace",
    "growth_wait": "of which the cluster's: the longest rollout wait, {n} app Deployment(s)",
    "growth_own": "of which the suite's own (start, plan, apply, reads), {n} app Deployment(s)",
    "peer_suite_first": "`invoke deploy`, fresh namespace (beside Skaffold)",
    "peer_suite_noop": "`invoke deploy` again, nothing changed (beside Skaffold)",
    "skaffold_first": "`skaffold deploy` (kustomize, server-side apply, status check), fresh "
    "namespace",
    "skaffold_noop": "`skaffold deploy` again, nothing changed (stock: re-rolls the pods)",
    "skaffold_noop_apply_only": "`skaffold deploy --status-check=false` again (the apply alone)",
    "argocd_install_noop": "`invoke argocd.install` again, nothing changed",
    "gitops_commit_refresh": "commit -> Synced/Healthy through `invoke release` + "
    "`invoke argocd.wait --revision` (which asks ArgoCD for the revision)",
    "gitops_commit_poll": "commit -> ArgoCD Synced/Healthy by polling (resync 10 s)",
    "gitops_commit_default_poll": "commit -> ArgoCD Synced/Healthy by ArgoCD's default polling "
    "(resync 120 s + <= 60 s jitter, refs cached 3 min; `--default-poll`)",
    "node_up_fresh": "real node: `invoke cluster.up`, fresh state folder (pause and CoreDNS images "
    "built, every image archive made)",
    "node_up": "real node: `invoke cluster.up` after `cluster.down`, binaries and images present",
    "node_down": "real node: `invoke cluster.down` (host restored)",
    "node_image_build_cold": "real node: `invoke image.build`, empty buildah store (Debian base "
    "by mmdebstrap, Python base, telemetry)",
    "node_image_build_warm": "real node: `invoke image.build` again, nothing changed",
    "node_deploy_fresh_cluster": "real node: `invoke deploy` of the dev overlay, the cluster's "
    "first (images loaded into containerd)",
    "node_deploy_first": "real node: `invoke deploy` of the dev overlay to Ready real pods, fresh "
    "namespace",
    "node_raw_deploy": "real node: raw commands (render + components, sops -d, local volumes, "
    "apply, rollout status), fresh namespace",
    "node_deploy_noop": "real node: `invoke deploy` again, nothing changed",
    "node_noop_floor": "real node: floor of a no-op (as on kwok)",
    "node_image_rebuild": "real node: `invoke image.build` + `image.load` of telemetry after a "
    "one-line change",
    "node_image_raw": "real node: `buildah bud` + `buildah push` + `ctr images import` after a "
    "one-line change",
    "gitops_node_release_wait": "real pods: `invoke release` + `invoke argocd.wait --revision` "
    "-> Synced/Healthy (ArgoCD and the dev overlay as pods on the real node)",
    "gitops_node_release_watch": "real pods: `invoke release --watch` -> Synced/Healthy",
    "gitops_node_phase_release": "of which: `invoke release` (the commit)",
    "gitops_node_phase_detect": "of which: until ArgoCD compares against it (the refresh)",
    "gitops_node_phase_sync": "of which: ArgoCD's sync operation, until it succeeded",
    "gitops_node_phase_healthy": "of which: the rollout, until the Application is Healthy",
    "gitops_node_phase_exit": "of which: until `invoke argocd.wait` saw it and exited",
}
COMPARISONS = (
    (
        "real node: first deploy vs raw commands",
        "node_deploy_first",
        "node_raw_deploy",
        "node_deploy_vs_raw",
    ),
    ("real node: no-op vs its floor", "node_deploy_noop", "node_noop_floor", "node_noop_vs_floor"),
    (
        "real node: telemetry rebuild + load vs by hand",
        "node_image_rebuild",
        "node_image_raw",
        "node_image_vs_raw",
    ),
    (
        "real node: image.build warm vs cold",
        "node_image_build_warm",
        "node_image_build_cold",
        "node_build_warm_vs_cold",
    ),
    ("deploy vs raw commands", "deploy_first", "raw_deploy", "deploy_vs_raw"),
    ("no-op redeploy vs its floor", "deploy_noop", "noop_floor", "noop_vs_floor"),
    ("no-op redeploy vs first deploy", "deploy_noop", "deploy_first", "noop_vs_first"),
    (
        "dev loop vs one-line-change deploy",
        "devloop_save_to_ready",
        "deploy_one_line",
        "devloop_vs_deploy",
    ),
    ("validate vs raw kustomize", "validate_all", "raw_render_all", "validate_vs_raw"),
    ("offline diff vs rendering once", "diff_commits", "diff_raw_render", "diff_vs_render"),
    ("`invoke --list` vs `python -c pass`", "invoke_list", "python_pass", "list_vs_python"),
    ("`invoke doctor` vs `python -c pass`", "invoke_doctor", "python_pass", "doctor_vs_python"),
    ("first deploy: invoke vs Skaffold", "peer_suite_first", "skaffold_first", "first_vs_skaffold"),
    (
        "no-op: invoke vs Skaffold (stock, re-rolls)",
        "peer_suite_noop",
        "skaffold_noop",
        "noop_vs_skaffold",
    ),
    (
        "no-op: invoke vs Skaffold, apply only",
        "peer_suite_noop",
        "skaffold_noop_apply_only",
        "noop_vs_skaffold_apply",
    ),
    (
        "commit -> healthy: refresh vs polling",
        "gitops_commit_refresh",
        "gitops_commit_poll",
        "refresh_vs_poll",
    ),
    (
        "commit -> healthy: refresh vs ArgoCD's default polling",
        "gitops_commit_refresh",
        "gitops_commit_default_poll",
        "refresh_vs_default_poll",
    ),
)
_SIZED = re.compile(r"^(growth_\w+?)_(\d+)$")


def label(key: str) -> str:
    if match := _SIZED.match(key):
        return LABELS[match.group(1)].format(n=match.group(2))
    return LABELS.get(key, key)


def measurements(samples: dict[str, list[float]]) -> dict[str, dict]:
    out = {}
    for key, values in samples.items():
        if values:
            summary = stats.summarize(values)
            out[key] = {
                "label": label(key),
                **summary.as_dict(),
                "samples": [round(v, 4) for v in values],
            }
    return out


def _summary(m: dict) -> stats.Summary:
    return stats.Summary(m["median"], m["min"], m["max"], m["runs"])


def comparisons(found: dict[str, dict]) -> list[dict]:
    rows = []
    for name, subject, baseline, metric in COMPARISONS:
        if subject in found and baseline in found:
            value = stats.ratio(_summary(found[subject]), _summary(found[baseline]))
            rows.append(
                {
                    "name": name,
                    "subject": subject,
                    "baseline": baseline,
                    "metric": metric,
                    "ratio": value,
                }
            )
    return rows


def growths(found: dict[str, dict]) -> dict[str, dict]:
    """Growth of each `growth_<what>_<n>` family that has at least two sizes."""
    families: dict[str, dict[int, float]] = {}
    for key, m in found.items():
        if match := _SIZED.match(key):
            families.setdefault(match.group(1), {})[int(match.group(2))] = m["median"]
    suite, raw = families.get("growth_deploy", {}), families.get("growth_raw", {})
    if shared := set(suite) & set(raw):  # the suite's own cost, the cluster's taken out
        families["growth_overhead"] = {n: suite[n] - raw[n] for n in shared}
    return {
        name.removeprefix("growth_"): stats.growth(points).as_dict()
        for name, points in families.items()
        if len(points) >= 2
    }


def metrics(found: dict[str, dict], ratios: list[dict], grown: dict[str, dict]) -> dict:
    values: dict[str, float | str | None] = {r["metric"]: r["ratio"] for r in ratios}
    values["noop_seconds"] = found.get("deploy_noop", {}).get("median")
    values["list_seconds"] = found.get("invoke_list", {}).get("median")
    gitops = found.get("gitops_node_release_wait") or found.get("gitops_commit_refresh") or {}
    values["gitops_commit_seconds"] = gitops.get("median")  # with real pods where measured
    values["argocd_noop_seconds"] = found.get("argocd_install_noop", {}).get("median")
    values["node_up_seconds"] = found.get("node_up", {}).get("median")
    values["node_noop_seconds"] = found.get("node_deploy_noop", {}).get("median")
    values["devloop_seconds"] = found.get("devloop_save_to_ready", {}).get("median")
    for what in ("deploy", "validate"):
        values[f"growth_{what}"] = grown[what]["shape"] if what in grown else None
    return values


def merge(
    previous: dict | None,
    samples: dict[str, list[float]],
    meta: dict,
    notes: list[str],
    scenarios: list[str],
) -> tuple[dict[str, list[float]], dict, list[str]]:
    """A run of some scenarios (`--only`) folded into the previous results: its samples
    replace the same keys, the previous run's other figures, meta and notes stay, its notes
    about these scenarios go, and meta["partial_runs"] says when these were measured."""
    if not previous:
        return samples, meta, notes
    merged = {k: list(m["samples"]) for k, m in previous.get("measurements", {}).items()}
    merged.update(samples)
    kept = [
        n
        for n in previous.get("notes", [])
        if not n.startswith(tuple(f"{s} " for s in scenarios))
        and not n.startswith(tuple(f"{s}:" for s in scenarios))
    ]
    base = {k: v for k, v in previous.get("meta", {}).items() if k != "partial_runs"}
    runs = [
        r
        for r in previous.get("meta", {}).get("partial_runs", [])
        if r.get("scenarios") != scenarios
    ]
    runs.append(
        {
            "scenarios": scenarios,
            **{k: meta[k] for k in ("date", "commit", "runs", "took_seconds") if k in meta},
        }
    )
    return merged, {**base, "partial_runs": runs}, [*kept, *notes]


def build(samples: dict[str, list[float]], meta: dict, notes: list[str]) -> dict:
    found = measurements(samples)
    ratios = comparisons(found)
    grown = growths(found)
    outcomes = targets.evaluate(metrics(found, ratios, grown))
    return {
        "meta": meta,
        "targets": [o.as_dict() for o in outcomes],
        "comparisons": ratios,
        "growth": grown,
        "measurements": found,
        "notes": notes,
    }
