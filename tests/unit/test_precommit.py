"""The static checks are one list: `nox -s lint` runs the hooks of .pre-commit-config.yaml,
each a local hook on the project's .venv, and the hooks check for real."""

import ast
import json
import re
import shlex
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent  # the venv running the tests has the dev extras
HOOKS = yaml.safe_load((ROOT / ".pre-commit-config.yaml").read_text())
# the linters issue 26 names for lint and pre-commit alike, plus the repository's own checks
LINTERS = {"ruff", "ruff-format", "yamllint", "mypy", "mkdocs", "shellcheck"}


def _hooks() -> list[dict]:
    (repo,) = HOOKS["repos"]
    assert repo["repo"] == "local"  # nothing fetched: the pinned tools of the dev extras
    return repo["hooks"]


def _lint_runs() -> list[list[str]]:
    """The argv of every session.run in noxfile.py's lint session (a tuple named in the
    session and unpacked into the call counts as its strings)."""
    tree = ast.parse((ROOT / "noxfile.py").read_text())
    (lint,) = [n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == "lint"]
    tuples = {
        node.targets[0].id: [e.value for e in node.value.elts if isinstance(e, ast.Constant)]
        for node in ast.walk(lint)
        if isinstance(node, ast.Assign) and isinstance(node.value, ast.Tuple)
    }
    runs = []
    for call in ast.walk(lint):
        if isinstance(call, ast.Call) and getattr(call.func, "attr", None) == "run":
            argv: list[str] = []
            for arg in call.args:
                if isinstance(arg, ast.Constant):
                    argv.append(arg.value)
                elif isinstance(arg, ast.Starred) and isinstance(arg.value, ast.Name):
                    argv += tuples.get(arg.value.id, [])
            runs.append(argv)
    return runs


def test_lint_runs_the_hooks_and_no_check_beside_them():
    runs = _lint_runs()
    assert [run[:2] for run in runs] == [
        [".venv/bin/invoke", "tools.install"],  # the tools the hooks need, not a check
        [".venv/bin/pre-commit", "run"],
    ]
    assert "--all-files" in runs[1]


def test_every_linter_is_a_hook():
    assert {h["id"] for h in _hooks()} >= LINTERS


def test_hooks_run_the_venvs_pinned_tools_over_the_whole_tree():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    wanted = project["dependencies"] + project["optional-dependencies"]["dev"]
    provided = {_requirement_name(r) for r in wanted}  # invoke is opskit's own dependency
    for hook in _hooks():
        argv = shlex.split(hook["entry"])
        assert argv[0].startswith(".venv/bin/"), hook["id"]
        assert Path(argv[0]).name in provided, f"{hook['id']}: {argv[0]} not in the dev extras"
        assert hook["language"] == "system"
        assert hook["pass_filenames"] is False  # as lint: the tool's own idea of the tree


def test_invoke_hooks_name_tasks_that_exist():
    listing = subprocess.run(
        [BIN / "invoke", "--list", "--list-format=json"],
        cwd=ROOT,
        capture_output=True,
        check=True,
    )
    collections = json.loads(listing.stdout)["collections"]
    tasks = {f"{c['name']}.{t['name']}" for c in collections for t in c["tasks"]}
    called = [
        shlex.split(h["entry"])[1] for h in _hooks() if h["entry"].startswith(".venv/bin/invoke")
    ]
    assert called
    assert set(called) <= tasks


def test_pre_commit_accepts_the_config():
    subprocess.run(
        [BIN / "pre-commit", "validate-config", ".pre-commit-config.yaml"], cwd=ROOT, check=True
    )


@pytest.mark.parametrize(
    ("hook", "name", "bad", "complaint"),
    [
        ("ruff", "bad.py", "import os\n", "F401"),
        ("ruff-format", "bad.py", "x = {  'a':1 }\n", "1 file would be reformatted"),
        ("yamllint", "bad.yaml", "key: value\nkey: again\n", "duplication of key"),
    ],
)
def test_a_hook_fails_on_what_its_linter_refuses(tmp_path, hook, name, bad, complaint):
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    (tmp_path / ".venv").mkdir()
    (tmp_path / ".venv" / "bin").symlink_to(BIN)
    (tmp_path / ".pre-commit-config.yaml").write_text(
        (ROOT / ".pre-commit-config.yaml").read_text()
    )
    (tmp_path / name).write_text(bad)
    subprocess.run(["git", "add", name, ".pre-commit-config.yaml"], cwd=tmp_path, check=True)
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "PRE_COMMIT_HOME": str(tmp_path / ".pc")}
    run = subprocess.run(
        [BIN / "pre-commit", "run", hook, "--all-files"],
        check=False,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        env=env,
    )
    assert run.returncode == 1, run.stdout + run.stderr
    assert complaint in run.stdout


def _requirement_name(requirement: str) -> str:
    match = re.match(r"[A-Za-z0-9._-]+", requirement)
    assert match, requirement
    return match.group(0).lower()
