"""The KSOPS-compatible exec plugin with the real sops and age (and kustomize when built)."""

import io
import os
import shutil
import sys

import pytest
import yaml

from opskit.core import shell, tools
from opskit.secrets import generate, ksops, sops
from tests.unit.conftest import ROOT, needs_sops

pytestmark = needs_sops
GENERATOR = ROOT / "k8s" / "overlays" / "dev" / "secrets" / "secret-generator.yaml"


@pytest.fixture
def overlay(secrets_project):
    """The dev overlay's Secrets encrypted for a temporary key, next to the real generator."""
    cfg = secrets_project
    overlay = cfg.overlay("dev")
    generate.init(cfg, overlay)
    folder = overlay.path / "secrets"
    shutil.copy(GENERATOR, folder / GENERATOR.name)
    shutil.copy(GENERATOR.with_name("kustomization.yaml"), folder / "kustomization.yaml")
    return cfg, overlay, folder


def expected(cfg, overlay) -> dict[str, dict]:
    """name -> stringData, as `sops -d` gives them."""
    out = {}
    for path in sops.secret_files(overlay):
        doc = yaml.safe_load(sops.decrypt(cfg, overlay, path))
        out[doc["metadata"]["name"]] = doc["stringData"]
    return out


def run_plugin(monkeypatch, folder, stdin: str, args=()) -> tuple[int, str, str]:
    monkeypatch.chdir(folder)
    monkeypatch.setattr(sys, "stdin", io.StringIO(stdin))
    out, err = io.StringIO(), io.StringIO()
    monkeypatch.setattr(sys, "stdout", out)
    monkeypatch.setattr(sys, "stderr", err)
    code = ksops.main(list(args))
    return code, out.getvalue(), err.getvalue()


def test_resource_list_in_decrypted_secrets_out(overlay, monkeypatch):
    cfg, ov, folder = overlay
    function_config = yaml.safe_load(GENERATOR.read_text())
    request = yaml.safe_dump(
        {"kind": "ResourceList", "items": [], "functionConfig": function_config}
    )
    code, out, err = run_plugin(monkeypatch, folder, request)
    assert (code, err) == (0, "")
    response = yaml.safe_load(out)
    assert response["kind"] == "ResourceList"
    got = {item["metadata"]["name"]: item["stringData"] for item in response["items"]}
    assert got == expected(cfg, ov)
    assert all("sops" not in item for item in response["items"])


def test_legacy_plugin_protocol_reads_the_generator_file(overlay, monkeypatch):
    cfg, ov, folder = overlay
    code, out, _ = run_plugin(monkeypatch, folder, "", args=[str(folder / GENERATOR.name)])
    assert code == 0
    names = [d["metadata"]["name"] for d in yaml.safe_load_all(out)]
    assert sorted(names) == sorted(expected(cfg, ov))


def test_wrong_kind_and_missing_file_are_one_line_errors(overlay, monkeypatch):
    _, _, folder = overlay
    bad = yaml.safe_dump({"kind": "ResourceList", "functionConfig": {"kind": "Other"}})
    code, out, err = run_plugin(monkeypatch, folder, bad)
    assert (code, out) == (1, "")
    assert err.startswith("ksops: error: expected a generator of kind ksops, got 'Other'")
    missing = yaml.safe_dump({"kind": "ksops", "files": ["./nope.sops.yaml"]})
    code, _, err = run_plugin(monkeypatch, folder, missing)
    assert code == 1 and err.count("\n") == 1 and "nope.sops.yaml: not found" in err


@pytest.mark.tools("kustomize")
def test_kustomize_runs_it_as_the_overlay_generator(overlay, tmp_path):
    cfg, ov, folder = overlay
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    wrapper = bin_dir / "ksops"
    wrapper.write_text(f'#!/bin/sh\nexec "{sys.executable}" -m opskit.secrets.ksops "$@"\n')
    wrapper.chmod(0o755)
    sops_dir = os.path.dirname(tools.which("sops"))  # as the repo-server's PATH has it
    path = os.pathsep.join((str(bin_dir), sops_dir, os.environ["PATH"]))
    result = shell.run(
        ["kustomize", "build", "--enable-alpha-plugins", "--enable-exec", str(folder)],
        env={"PATH": path, "PYTHONPATH": str(ROOT)},
    )
    docs = list(yaml.safe_load_all(result.stdout))
    got = {d["metadata"]["name"]: d["stringData"] for d in docs}
    assert got == expected(cfg, ov)
    assert {d["metadata"]["namespace"] for d in docs} == {"gitops-lab-dev"}
