"""The manifests.* tasks, run through the real `invoke` CLI the way a person runs them."""

from __future__ import annotations

import inspect
import os
import shutil
import sys
from pathlib import Path

import pytest
import sh

from opskit.tasks import manifests as manifest_tasks

ROOT = Path(__file__).resolve().parents[2]
INVOKE = sh.Command(str(Path(sys.executable).parent / "invoke"))


def invoke(*args: str, root: Path = ROOT, ok: tuple[int, ...] = (0,)) -> sh.RunningCommand:
    env = {**os.environ, "OPSKIT_ROOT": str(root)}
    return INVOKE(
        *args, _cwd=ROOT, _env=env, _ok_code=list(ok), _err_to_out=False, _return_cmd=True
    )


@pytest.fixture
def copy(tmp_path) -> Path:
    """A scratch project: opskit.yaml and k8s/ (tasks edit it, never the real tree)."""
    shutil.copy(ROOT / "opskit.yaml", tmp_path / "opskit.yaml")
    shutil.copytree(ROOT / "k8s", tmp_path / "k8s")
    return tmp_path


def test_validate_passes_for_every_overlay():
    result = invoke("manifests.validate")
    assert result.stdout.decode() == ""
    assert result.stderr.decode().startswith(
        "opskit: valid: dev, prod, argocd (70 objects, Kubernetes 1.37.2 schemas, no "
        "plaintext Secret under k8s/) in "
    )


def test_validate_lists_every_problem_and_exits_1(copy):
    deployment = copy / "k8s" / "base" / "api-deployment.yaml"
    text = deployment.read_text()
    start = text.index("          readinessProbe:")
    deployment.write_text(text[:start] + text[text.index("          resources:") :])
    result = invoke("manifests.validate", root=copy, ok=(1,))
    line = (
        "Deployment/api: spec.template.spec.containers[0].readinessProbe: missing; every "
        "container needs liveness and readiness probes"
    )
    assert result.stdout.decode().splitlines() == [f"dev/{line}", f"prod/{line}"]
    error = result.stderr.decode()
    assert error.startswith("opskit: error: 2 problem(s) in dev, prod, argocd (")
    assert error.endswith("fix the lines above, then run `invoke manifests.validate`\n")


@pytest.mark.parametrize("task", ["manifests.render", "manifests.validate", "manifests.diff"])
def test_an_unknown_overlay_is_one_line_and_exit_1(task):
    result = invoke(task, "--overlay=nope", ok=(1,))
    assert result.stderr.decode() == (
        f"opskit: error: {ROOT}/opskit.yaml: overlays: unknown overlay 'nope'; "
        "use one of: dev, prod\n"
    )
    assert result.stdout.decode() == ""


def test_render_pins_the_tag_in_memory():
    out = invoke("manifests.render", "--overlay=prod", "--tag=0123456789ab").stdout.decode()
    assert "image: localhost:5000/gitops-lab/api:0123456789ab\n" in out
    assert "namespace: gitops-lab-prod\n" in out
    assert "kind: Secret\n" not in out


def test_set_image_needs_both_flags():
    result = invoke("manifests.set-image", "--overlay=dev", ok=(1,))
    assert result.stderr.decode().startswith("opskit: error: --overlay and --tag are required;")


def test_set_image_dry_run_changes_nothing(copy):
    file = copy / "k8s" / "overlays" / "dev" / "kustomization.yaml"
    before = file.read_text()
    result = invoke(
        "manifests.set-image", "--overlay=dev", "--tag=0123456789ab", "--dry-run", root=copy
    )
    assert (
        "[dry-run] would pin localhost:5000/gitops-lab/api:0123456789ab in "
        "k8s/overlays/dev/kustomization.yaml" in result.stderr.decode()
    )
    assert file.read_text() == before


def test_set_image_pins_then_is_a_no_op(copy):
    invoke("manifests.set-image", "--overlay=prod", "--tag=0123456789ab", root=copy)
    assert 'newTag: "0123456789ab"' in (copy / "k8s/overlays/prod/kustomization.yaml").read_text()
    again = invoke("manifests.set-image", "--overlay=prod", "--tag=0123456789ab", root=copy)
    assert "already pins" in again.stderr.decode()


def test_every_flag_has_help():
    for name, member in inspect.getmembers(manifest_tasks):
        if hasattr(member, "help") and hasattr(member, "body"):
            params = list(inspect.signature(member.body).parameters)[1:]
            assert sorted(member.help) == sorted(params), name
            assert (member.body.__doc__ or "").strip(), name
