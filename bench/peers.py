"""Skaffold (v2.19, built by `invoke tools.install --only=peers`) beside `invoke deploy`,
doing the same work on a namespace of its own: a kustomize render of the overlay, a
server-side apply, a status check of the rollouts.

What it is given: the overlay as the suite renders it for this cluster (its ServiceMonitors
left out by a kustomize patch: the kwok cluster does not serve their API, the suite skips
them too) and, before its first deploy and not timed, the overlay's Secrets decrypted from
memory (Skaffold has no SOPS; nothing decrypted is written to a file). Stock Skaffold
labels every pod template with a new `skaffold.dev/run-id` on each run (no flag turns it
off in v2.19), so each of its deploys rolls every pod again: its no-op is reported as it
is, and also with `--status-check=false` (the apply alone, without waiting for that
re-roll).
"""

from __future__ import annotations

import json
import textwrap

from bench import raw
from bench.scenarios import DEPLOY, RawDeploy, Slot, _append
from bench.workspace import Workspace, timed

KEYS = ("skaffold_first", "skaffold_noop", "skaffold_noop_apply_only")


def _config(ws: Workspace, slot: Slot) -> str:
    """skaffold.yaml and a kustomization over the slot's overlay, beside the scratch
    repository (in it they would make its tree dirty); returns the config path."""
    import os

    folder = ws.repo.parent / "skaffold" / slot.name
    folder.mkdir(parents=True, exist_ok=True)
    overlay = os.path.relpath(slot.path(ws), folder)
    (folder / "kustomization.yaml").write_text(
        textwrap.dedent(f"""\
        apiVersion: kustomize.config.k8s.io/v1beta1
        kind: Kustomization
        resources: [{overlay}]
        patches:
          - target: {{kind: ServiceMonitor}}
            patch: |-
              $patch: delete
              apiVersion: monitoring.coreos.com/v1
              kind: ServiceMonitor
              metadata: {{name: any}}
        """)
    )
    (folder / "skaffold.yaml").write_text(
        textwrap.dedent(f"""\
        apiVersion: skaffold/v4beta13
        kind: Config
        manifests:
          kustomize:
            paths: [{folder}]
        deploy:
          statusCheck: true
          kubectl:
            flags:
              apply: [--server-side, --force-conflicts, --validate=false, --field-manager=skaffold]
        """)
    )
    return str(folder / "skaffold.yaml")


def _skaffold(ws: Workspace, config: str, *extra: str) -> str:
    return ws.tool(
        "skaffold",
        "deploy",
        "--filename",
        config,
        "--kubeconfig",
        str(ws.kubeconfig),
        "--kube-context",
        ws.context,
        "--update-check=false",
        "--interactive=false",
        *extra,
    )


def _secrets(ws: Workspace, slot: Slot, raw_deploy: RawDeploy) -> None:
    """The slot's Secrets and TLS Secret, decrypted in memory and applied (not timed)."""
    text, _ = raw.payload(
        ws,
        slot.path(ws),
        slot.namespace,
        raw_deploy.images,
        raw_deploy.served,
        raw_deploy.cert(ws, slot),
    )
    private = [d for d in raw.documents(text) if "\nkind: Secret" in f"\n{d}"]
    ws.kubectl("create", "namespace", slot.namespace)
    raw.apply(ws, "---\n".join(private), "skaffold-secrets")


def _generation(ws: Workspace, slot: Slot) -> int:
    data = json.loads(ws.kubectl("get", "deployment", "api", "-n", slot.namespace, "-o", "json"))
    return int(data["metadata"]["generation"])


def measure(
    ws: Workspace,
    slots: list[tuple[Slot, Slot]],
    raw_deploy: RawDeploy,
    samples: dict[str, list[float]],
    notes: list[str],
) -> None:
    """Per pair (suite slot, Skaffold slot): first deploy and no-op of each, taking turns;
    a note says how often Skaffold's no-op rolled the pods again."""
    rerolls = []
    for index, (mine, theirs) in enumerate(slots):
        config = _config(ws, theirs)
        _secrets(ws, theirs, raw_deploy)

        def suite(slot=mine):
            _append(samples, "peer_suite_first", timed(lambda: ws.invoke(*DEPLOY, slot.name)))
            _append(samples, "peer_suite_noop", timed(lambda: ws.invoke(*DEPLOY, slot.name)))

        def skaffold(slot=theirs, config=config):
            _append(samples, KEYS[0], timed(lambda: _skaffold(ws, config)))
            before = _generation(ws, slot)
            _append(samples, KEYS[1], timed(lambda: _skaffold(ws, config)))
            rerolls.append(_generation(ws, slot) > before)
            _append(samples, KEYS[2], timed(lambda: _skaffold(ws, config, "--status-check=false")))

        for step in (suite, skaffold) if index % 2 == 0 else (skaffold, suite):
            step()
    notes.append(
        f"Skaffold v2.19's no-op rolled deployment/api again in {sum(rerolls)} of {len(rerolls)} "
        "runs (a new skaffold.dev/run-id label in the pod template each run); `invoke deploy`'s "
        "no-op sends nothing and rolls nothing"
    )
