"""The KSOPS-compatible exec plugin with the real sops and age (and kustomize when built)."""

import io
import json
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


# --- tools/ksops: the Go plugin ArgoCD's repo-server runs on the embedded cluster's real node


def _go_plugin_dir(tmp_path):
    """A PATH folder holding only the built Go ksops (no sops binary beside it: the plugin
    decrypts with sops's library, as upstream KSOPS does)."""
    bin_dir = tmp_path / "go-bin"
    bin_dir.mkdir()
    shell.run([tools.which("ksops"), "install", str(bin_dir)])  # as the init container does
    return bin_dir


@pytest.mark.tools("ksops", "kustomize")
def test_the_go_plugin_renders_the_overlay_secrets_under_kustomize(overlay, tmp_path):
    cfg, ov, folder = overlay
    bin_dir = _go_plugin_dir(tmp_path)
    assert sorted(p.name for p in bin_dir.iterdir()) == ["ksops"]
    assert os.access(bin_dir / "ksops", os.X_OK)
    kustomize = os.path.dirname(tools.which("kustomize"))
    result = shell.run(
        ["kustomize", "build", "--enable-alpha-plugins", "--enable-exec", str(folder)],
        env={"PATH": os.pathsep.join((str(bin_dir), kustomize, "/usr/bin:/bin"))},
    )
    docs = list(yaml.safe_load_all(result.stdout))
    assert {d["metadata"]["name"]: d["stringData"] for d in docs} == expected(cfg, ov)
    assert all("sops" not in d for d in docs)


@pytest.mark.tools("ksops")
def test_the_go_plugin_speaks_both_protocols_and_fails_in_one_line(overlay, tmp_path):
    cfg, ov, folder = overlay
    plugin = str(_go_plugin_dir(tmp_path) / "ksops")
    legacy = shell.run([plugin, GENERATOR.name], cwd=str(folder))
    assert sorted(d["metadata"]["name"] for d in yaml.safe_load_all(legacy.stdout)) == sorted(
        expected(cfg, ov)
    )
    request = json.dumps({"kind": "ResourceList", "functionConfig": yaml.safe_load(
        GENERATOR.read_text()
    )})  # fmt: skip
    listed = yaml.safe_load(shell.run([plugin], stdin=request, cwd=str(folder)).stdout)
    assert listed["kind"] == "ResourceList" and len(listed["items"]) == len(expected(cfg, ov))
    wrong = shell.run([plugin], stdin='{"kind": "Other"}', cwd=str(folder), check=False)
    assert (wrong.returncode, wrong.stdout) == (1, "")
    assert wrong.stderr == "ksops: error: expected a generator of kind ksops, got Other\n"
    nowhere = str(tmp_path / "no-home")  # sops also reads the default keys.txt below it
    keyless = shell.run(
        [plugin, GENERATOR.name],
        cwd=str(folder),
        env={"SOPS_AGE_KEY_FILE": nowhere, "XDG_CONFIG_HOME": nowhere, "HOME": nowhere},
        check=False,
    )
    assert keyless.stdout == "", "decrypted without a key"  # (no plaintext in the report)
    assert keyless.returncode == 1 and keyless.stderr.count("\n") == 1
    assert "SOPS_AGE_KEY_FILE" in keyless.stderr


@pytest.mark.tools("ksops")
def test_the_go_plugin_reports_the_sops_release_it_is_built_on():
    from opskit.core import config

    version = shell.run([tools.which("ksops"), "--version"]).stdout.strip()
    pin = config.load(ROOT / "opskit.yaml").tools["sops"].lstrip("v")
    assert version == f"ksops (gitops-lab) on sops {pin}"
