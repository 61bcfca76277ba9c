"""opskit.core.startup: under the real `invoke` command the modules the tasks import keep their
bytecode (invoke turns writing it off), unless Python itself was told not to."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
TASKS = """
import sys
sys.path.insert(0, {root!r})
from opskit.core import startup
startup.prepare()
from invoke import task
import helper


@task
def ok(c):
    print(helper.VALUE, end="")
"""


@pytest.mark.parametrize("env_flag, written", [(None, True), ("1", False)])
def test_bytecode_of_what_the_tasks_import(tmp_path, env_flag, written):
    (tmp_path / "tasks.py").write_text(TASKS.format(root=str(ROOT)))
    (tmp_path / "helper.py").write_text("VALUE = 'imported'\n")
    skip = ("PYTHONDONTWRITEBYTECODE", "COV_", "COVERAGE")
    env = {k: v for k, v in os.environ.items() if not k.startswith(skip)}
    if env_flag:
        env["PYTHONDONTWRITEBYTECODE"] = env_flag
    invoke = Path(sys.executable).with_name("invoke")
    done = subprocess.run(
        [str(invoke), "-r", str(tmp_path), "ok"],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )
    assert (done.returncode, done.stdout) == (0, "imported"), done.stderr
    assert bool(list(tmp_path.glob("__pycache__/helper.*.pyc"))) is written
