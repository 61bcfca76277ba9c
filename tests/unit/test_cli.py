"""The invoke entry point as users call it: listing, config.show, doctor, error lines."""

import json
import sys
from pathlib import Path

import pytest
import sh

ROOT = Path(__file__).resolve().parents[2]
INVOKE = sh.Command(str(Path(sys.executable).parent / "invoke"))


def _invoke(*args, ok=(0,), **env):
    return INVOKE(
        *args,
        _cwd=ROOT,
        _ok_code=list(ok),
        _return_cmd=True,
        _tty_out=False,
        _env={**__import__("os").environ, **env},
    )


def test_list_shows_every_namespace():
    listing = json.loads(str(_invoke("--list", "--list-format=json")))
    names = {c["name"] for c in listing["collections"]}
    assert {
        "config",
        "tools",
        "cluster",
        "manifests",
        "secrets",
        "certs",
        "image",
        "argocd",
        "monitoring",
        "lint",
        "app",
    } <= names
    assert {"doctor", "deploy", "rollback", "release"} <= {t["name"] for t in listing["tasks"]}


def _all_tasks():
    import tasks

    def walk(collection):
        yield from collection.tasks.values()
        for sub in collection.collections.values():
            yield from walk(sub)

    return list(walk(tasks.ns))


@pytest.fixture
def restore_task_help():
    """invoke pops each task's help dict while parsing; put it back for later tests."""
    saved = [(task, dict(task.help)) for task in _all_tasks()]
    yield
    for task, help_ in saved:
        task.help.clear()
        task.help.update(help_)


def test_every_task_has_a_docstring_and_help_for_each_flag():
    import inspect

    for task in _all_tasks():
        assert task.__doc__ and task.__doc__.strip().splitlines()[0], task.name
        params = list(inspect.signature(task.body).parameters)[1:]
        undocumented = sorted(set(params) - set(task.help))
        assert not undocumented, f"{task.name}: no help for {undocumented}"


def test_config_show_prints_one_overlay():
    out = str(_invoke("config.show", "--overlay=dev"))
    assert "namespace: gitops-lab-dev" in out
    assert "api.dev.gitops-lab.localhost" in out


@pytest.mark.usefixtures("restore_task_help", "refuse_processes")
def test_unknown_overlay_is_one_line_and_starts_no_process(capsys):
    from invoke import Program

    import tasks

    with pytest.raises(SystemExit) as exited:
        Program(namespace=tasks.ns).run(["invoke", "config.show", "--overlay=nope"])
    assert exited.value.code == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [
        f"opskit: error: {ROOT / 'opskit.yaml'}: overlays: unknown overlay 'nope'; "
        "use one of: dev, prod"
    ]


def test_doctor_exits_1_when_a_needed_tool_is_missing(tmp_path):
    (tmp_path / "opskit.yaml").write_text(
        (ROOT / "opskit.yaml").read_text().replace("provider: auto", "provider: kwok")
    )
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for tool in ("git", "kubectl"):
        (bin_dir / tool).symlink_to(sh.which(tool).strip())
    result = _invoke(
        "doctor",
        ok=(1,),
        OPSKIT_ROOT=str(tmp_path),
        PATH=f"{bin_dir}:{Path(sys.executable).parent}",
    )
    assert "kwokctl*" in str(result)
    assert "MISSING" in str(result)
    assert "missing or too old for the kwok workflow: " in result.stderr.decode()


def test_doctor_exits_0_when_the_workflow_is_complete(tmp_path):

    (tmp_path / "opskit.yaml").write_text(
        (ROOT / "opskit.yaml").read_text().replace("provider: auto", "provider: kwok")
    )
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    _complete_kwok_workflow(bin_dir)
    result = _invoke("doctor", OPSKIT_ROOT=str(tmp_path), PATH=f"{bin_dir}:/usr/bin:/bin")
    assert result.exit_code == 0
    assert "MISSING" not in str(result)
    # kubectl on PATH (not .tools/bin, and 1.32) is only a fallback: a warning
    assert (
        f"opskit: warning: kubectl 1.32.4 at {bin_dir / 'kubectl'} is a fallback: the project's "
        "kubectl is 1.37 in .tools/bin (Kubernetes 1.37.2, supported skew ±1); run "
        "`invoke tools.install`"
    ) in result.stderr.decode()


def _complete_kwok_workflow(bin_dir):
    from opskit.core import tools

    versions = {
        "etcd": "etcd Version: 3.7.3",
        "kwokctl": "kwokctl version v0.8.0",
        "kwok": "kwok version v0.8.0",
        "kubectl": "Client Version: v1.32.4",
    }
    for name in tools.WORKFLOW["kwok"]:
        script = bin_dir / name
        script.write_text(f"#!/bin/sh\necho '{versions.get(name, name + ' v9.9.9')}'\n")
        script.chmod(0o755)


def test_doctor_names_tools_built_from_an_older_pin_and_the_fix(tmp_path):
    import shutil

    (tmp_path / "opskit.yaml").write_text(
        (ROOT / "opskit.yaml").read_text().replace("provider: auto", "provider: kwok")
    )
    shutil.copytree(ROOT / "tools", tmp_path / "tools")
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    _complete_kwok_workflow(bin_dir)
    stamp = {"tools": {"etcd": {"version": "v3.5.35", "key": "built-from-3.5", "source": "built"}}}
    (tmp_path / ".tools").mkdir()
    (tmp_path / ".tools" / "stamp.json").write_text(json.dumps(stamp))
    result = _invoke("doctor", ok=(1,), OPSKIT_ROOT=str(tmp_path), PATH=f"{bin_dir}:/usr/bin:/bin")
    assert result.stderr.decode().splitlines()[-1] == (
        "opskit: error: .tools/bin is older than the pins in opskit.yaml/tools/: etcd v3.5.35 "
        "(pinned v3.7.3); run `invoke tools.install` (it rebuilds only these)"
    )
