"""Optional sections of opskit.yaml (argocd:, monitoring:): a task that needs one that is
absent stops with one line saying what to add, before it reaches a cluster."""

import os
import sys
from pathlib import Path

import pytest
import sh
import yaml

from opskit.core import config
from opskit.core.errors import ConfigError

ROOT = Path(__file__).resolve().parents[2]
INVOKE = sh.Command(str(Path(sys.executable).parent / "invoke"))


def _without(tmp_path: Path, section: str) -> Path:
    data = yaml.safe_load((ROOT / "opskit.yaml").read_text())
    del data[section]
    path = tmp_path / "opskit.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


@pytest.mark.parametrize(
    ("section", "require", "example"),
    [
        ("argocd", config.Config.require_argocd, "version: vX.Y.Z  # = tools.argocd"),
        ("monitoring", config.Config.require_monitoring, "chart: kube-prometheus-stack, "),
    ],
)
def test_a_missing_section_is_one_line_saying_what_to_add(tmp_path, section, require, example):
    cfg = config.load(_without(tmp_path, section))
    with pytest.raises(ConfigError) as caught:
        require(cfg)
    assert caught.value.message == f"{tmp_path / 'opskit.yaml'}: {section}: missing section"
    assert caught.value.hint.startswith(f"add `{section}:` with `{example}")


def test_present_sections_are_returned_as_loaded(root):
    cfg = config.load(root / "opskit.yaml")
    assert cfg.require_argocd() is cfg.argocd
    assert cfg.require_monitoring() is cfg.monitoring


@pytest.mark.parametrize(
    ("task", "section"),
    [("argocd.install", "argocd"), ("monitoring.install", "monitoring")],
)
def test_a_task_needing_an_absent_section_exits_1_before_any_cluster(tmp_path, task, section):
    _without(tmp_path, section)
    # no kubeconfig: reaching for a cluster first would fail with another message
    env = {**os.environ, "OPSKIT_ROOT": str(tmp_path), "KUBECONFIG": str(tmp_path / "none")}
    result = INVOKE(task, _cwd=ROOT, _ok_code=[1], _return_cmd=True, _env=env)
    lines = result.stderr.decode().splitlines()
    assert lines[-1].startswith(f"opskit: error: {tmp_path / 'opskit.yaml'}: {section}: missing")
    assert "Traceback" not in result.stderr.decode()
