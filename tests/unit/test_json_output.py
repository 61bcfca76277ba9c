"""`--json` of doctor, cluster.status and config.show: the documented keys, through the real
CLI; the human output is unchanged (tests/unit/test_cli.py)."""

import json
import os
import sys
from pathlib import Path

import sh

ROOT = Path(__file__).resolve().parents[2]
INVOKE = sh.Command(str(Path(sys.executable).parent / "invoke"))
DOCTOR_KEYS = {"name", "path", "version", "ok", "required", "hint"}


def invoke_json(*args: str, ok=(0,), **env) -> dict:
    done = INVOKE(
        *args,
        "--json",
        _cwd=ROOT,
        _ok_code=list(ok),
        _return_cmd=True,
        _tty_out=False,
        _env={**os.environ, **env},
    )
    return json.loads(done.stdout.decode())


def test_config_show_json_is_the_resolved_config():
    data = invoke_json("config.show")
    assert data["overlays"]["dev"]["namespace"] == "gitops-lab-dev"
    assert data["overlays"]["dev"]["path"] == str(ROOT / "k8s/overlays/dev")
    assert data["root"] == str(ROOT)
    one = invoke_json("config.show", "--overlay=prod")
    assert one["protected"] is True and one["hosts"] == [
        "api.gitops-lab.localhost",
        "telemetry.gitops-lab.localhost",
    ]


def test_doctor_json_names_every_tool_and_what_is_missing(tmp_path):
    (tmp_path / "opskit.yaml").write_text(
        (ROOT / "opskit.yaml").read_text().replace("provider: auto", "provider: kwok")
    )
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "git").symlink_to(sh.which("git").strip())
    data = invoke_json(
        "doctor",
        ok=(1,),
        OPSKIT_ROOT=str(tmp_path),
        PATH=f"{bin_dir}:{Path(sys.executable).parent}",
    )
    assert (data["provider"], data["ok"]) == ("kwok", False)
    assert "kwokctl" in data["missing"] and "git" not in data["missing"]
    tools = {t["name"]: t for t in data["tools"]}
    assert all(set(t) == DOCTOR_KEYS for t in tools.values())
    assert tools["git"]["ok"] is True and tools["git"]["path"] == str(bin_dir / "git")
    assert tools["kwokctl"] == {**tools["kwokctl"], "ok": False, "required": True, "path": None}


def test_cluster_status_json_of_an_absent_cluster(tmp_path):
    data = invoke_json(
        "cluster.status",
        "--provider=kwok",
        "--name=json-absent",
        ok=(1,),
        OPSKIT_STATE_DIR=str(tmp_path),
    )
    assert data == {
        "provider": "kwok",
        "name": "json-absent",
        "state": "absent",
        "running": False,
        "context": "kwok-json-absent",
        "kubeconfig": data["kubeconfig"],
        "nodes": [],
        "real_nodes": [],
        "detail": data["detail"],
    }
    assert data["kubeconfig"].startswith(str(tmp_path))
