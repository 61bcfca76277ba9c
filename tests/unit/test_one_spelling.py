"""One name per idea: the progress callback is one type, the three ways of undoing are
three names, a plan is built by keyword and a plan's changes are named."""

import ast
import dataclasses
from pathlib import Path

import pytest

from opskit.core import progress
from opskit.deploy import devloop, pipeline, report, restore, rollback
from opskit.kube import rollout

OPSKIT = Path(pipeline.__file__).parents[1]


def _sources() -> dict[Path, str]:
    return {path: path.read_text() for path in OPSKIT.rglob("*.py")}


def test_the_progress_callback_type_is_declared_once():
    declared = [
        path.relative_to(OPSKIT).as_posix()
        for path, text in _sources().items()
        if "Callable[[str], None]" in text
    ]
    assert declared == ["core/progress.py"]
    for module in (devloop, pipeline, report, restore, rollback):
        assert module.Notify is progress.Notify, module.__name__


def test_no_function_is_called_undo():
    undos = [
        f"{path.relative_to(OPSKIT)}:{node.name}"
        for path, text in _sources().items()
        for node in ast.walk(ast.parse(text))
        if isinstance(node, ast.FunctionDef) and "undo" in node.name
    ]
    assert undos == []
    # what each of the three does, by its name
    assert callable(restore.put_back) and callable(rollout.roll_back_to)
    assert callable(rollback._put_back_and_wait)


def test_a_plan_is_built_by_keyword_only():
    fields = dataclasses.fields(pipeline.Plan)
    assert all(f.kw_only for f in fields)
    with pytest.raises(TypeError):
        pipeline.Plan(*[None] * len(fields))


def test_changes_are_named():
    assert pipeline.Changes._fields == ("previous", "unchanged", "prints", "private", "identities")
    assert pipeline._changes.__annotations__["return"] in ("Changes", pipeline.Changes)
