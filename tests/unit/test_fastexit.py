"""opskit.core.fastexit: the exit status, the output and the exit handlers of the task run survive
skipping the interpreter's teardown (real subprocesses named like the invoke command)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from opskit.core import fastexit

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = """
import atexit, sys, time
sys.path.insert(0, {root!r})
atexit.register(lambda: open({marker!r} + ".early", "w").write("x"))  # stands for teardown
from opskit.core import fastexit
fastexit.install()
atexit.register(lambda: open({marker!r}, "w").write("handler ran"))  # e.g. a cache writer
print("out", end="")
print("err", end="", file=sys.stderr)
arg = sys.argv[1]
sys.exit(int(arg) if arg.isdigit() else None if arg == "none" else arg)
"""


def run(tmp_path: Path, arg: str, name: str = "invoke", **env: str):
    marker = tmp_path / "marker"
    marker.unlink(missing_ok=True)
    script = tmp_path / name
    script.write_text(SCRIPT.format(root=str(ROOT), marker=str(marker)))
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("COV_", "COVERAGE"))}
    argv = [sys.executable, str(script), arg]
    done = subprocess.run(
        argv, capture_output=True, text=True, env={**clean, **env}, timeout=30, check=False
    )
    early = Path(f"{marker}.early")
    ran_early = early.is_file()
    early.unlink(missing_ok=True)
    return done, marker.is_file(), ran_early


@pytest.mark.parametrize("arg, status", [("0", 0), ("none", 0), ("3", 3), ("130", 130)])
def test_status_output_and_later_handlers_survive(tmp_path, arg, status):
    done, handler_ran, teardown_ran = run(tmp_path, arg)
    assert (done.returncode, done.stdout, done.stderr) == (status, "out", "err")
    assert handler_ran and not teardown_ran  # what came before install() is skipped


def test_a_message_exit_is_left_to_python(tmp_path):
    done, _, _ = run(tmp_path, "boom")
    assert done.returncode == 1 and done.stderr.endswith("boom\n")


def test_only_the_invoke_command_and_not_when_asked(tmp_path):
    for name, env in (("script.py", {}), ("invoke", {"OPSKIT_FULL_EXIT": "1"})):
        done, handler_ran, teardown_ran = run(tmp_path, "3", name, **env)
        assert done.returncode == 3 and handler_ran and teardown_ran


def test_exit_status_mapping():
    assert [fastexit.exit_status(c) for c in (None, 0, 1, True, 256 + 7, "x")] == [
        0,
        0,
        1,
        1,
        7,
        None,
    ]


TASKS = """
import atexit, sys
sys.path.insert(0, {root!r})
from invoke import Exit, task
atexit.register(lambda: open({marker!r} + ".teardown", "w").write("x"))  # runs after _finish
from opskit.core import fastexit
fastexit.install()
atexit.register(lambda: open({marker!r}, "w").write("handler ran"))


@task
def ok(c):
    print("out", end="")


@task
def fail(c):
    raise Exit(code=3)


@task
def crash(c):
    raise RuntimeError("a bug")


@task
def bare(c):
    raise SystemExit(4)
"""


@pytest.mark.parametrize(
    "task_name, status, skipped",
    [("ok", 0, True), ("fail", 3, True), ("crash", 1, False), ("bare", 4, False)],
)
def test_the_invoke_command_itself(tmp_path, task_name, status, skipped):
    """The real `invoke` script (`sys.exit(program.run())` looks `sys.exit` up before
    tasks.py loads): a task run that returns skips the teardown with status 0, a failed one
    keeps its status; a crash or a bare SystemExit is left to Python."""
    invoke = Path(sys.executable).with_name("invoke")
    marker = tmp_path / "marker"
    (tmp_path / "tasks.py").write_text(TASKS.format(root=str(ROOT), marker=str(marker)))
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("COV_", "COVERAGE"))}
    done = subprocess.run(
        [str(invoke), "-r", str(tmp_path), task_name],
        capture_output=True,
        text=True,
        env=clean,
        timeout=60,
        check=False,
    )
    assert done.returncode == status, done.stderr
    assert marker.is_file()  # the handlers registered after install() ran either way
    assert Path(f"{marker}.teardown").is_file() is not skipped
    if task_name == "ok":
        assert done.stdout == "out"
