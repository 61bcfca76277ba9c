"""Every numeric task flag is parsed before work starts: a bad value is one line, exit 1."""

import inspect
import re

import pytest
from invoke import Program

import tasks

# a flag takes a number when its default is one, or its help says what it counts
NUMERIC_HELP = re.compile(r"\b(seconds|minutes|revision|port|number|count|length|retries)\b")
BAD_VALUES = ("abc", "-5", "inf", "1e400", "")


def _walk(collection, prefix=""):
    for name, task in collection.tasks.items():
        yield f"{prefix}{name}", task
    for name, sub in collection.collections.items():
        yield from _walk(sub, f"{prefix}{name}.")


def _looks_numeric(default) -> bool:
    if isinstance(default, bool):
        return False
    if isinstance(default, int | float):
        return True
    return isinstance(default, str) and re.fullmatch(r"-?\d+(\.\d+)?", default) is not None


def numeric_flags():
    found = []
    for task_name, task in _walk(tasks.ns):
        params = list(inspect.signature(task.body).parameters.values())[1:]
        for param in params:
            help_text = task.help.get(param.name, "")
            if _looks_numeric(param.default) or NUMERIC_HELP.search(help_text):
                found.append((task_name, param.name.replace("_", "-")))
    return found


@pytest.mark.usefixtures("refuse_processes")
def test_the_process_guard_catches_the_command_layer():
    from opskit.core import shell

    with pytest.raises(AssertionError, match="a process was started"):
        shell.run(["true"])


def test_the_numeric_flags_are_found():
    """The generated list is not empty by accident: it holds the flags known today."""
    flags = set(numeric_flags())
    assert {("deploy", "timeout"), ("rollback", "timeout"), ("rollback", "to-revision")} <= flags


@pytest.mark.usefixtures("restore_task_help", "refuse_processes")
@pytest.mark.parametrize("value", BAD_VALUES)
@pytest.mark.parametrize(("task_name", "flag"), numeric_flags())
def test_bad_number_is_one_line_and_starts_no_process(monkeypatch, capsys, task_name, flag, value):
    with pytest.raises(SystemExit) as exited:
        Program(namespace=tasks.ns).run(["invoke", task_name, f"--{flag}={value}"])
    assert exited.value.code == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1, err
    assert err[0].startswith(f"opskit: error: --{flag}: {value!r} is not allowed; use ")


@pytest.mark.usefixtures("restore_task_help", "refuse_processes")
@pytest.mark.parametrize(
    ("argv", "flag"),
    [
        (["cluster.up", "--name=../../etc"], "--name"),
        (["cluster.down", "--name=Big Name"], "--name"),
        (["cluster.status", "--provider=kind"], "--provider"),
        (["secrets.edit", "--name=../prod/secrets/x"], "--name"),
        (["secrets.show", "--yes", "--name=a/b"], "--name"),
        (["rollback", "--workload=api"], "--workload"),
        (["rollback", "--workload=deployment/../x"], "--workload"),
        (["rollback", "--workload=pod/api"], "--workload"),
        (["manifests.render", "--tag=latest"], "--tag"),
        (["manifests.diff", "--tag=a b"], "--tag"),
        (["manifests.set-image", "--overlay=dev", "--tag=-x"], "--tag"),
        (["app.test", '--args="unbalanced'], "--args"),
    ],
)
def test_bad_value_is_one_line_and_starts_no_process(monkeypatch, capsys, argv, flag):
    with pytest.raises(SystemExit) as exited:
        Program(namespace=tasks.ns).run(["invoke", *argv])
    assert exited.value.code == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1, err
    assert err[0].startswith(f"opskit: error: {flag}: ")
