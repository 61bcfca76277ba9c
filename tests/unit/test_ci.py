"""CI definitions: schemas, GitHub/Bitbucket parity, one call per ci/ script (opskit.lint.ci)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml

from opskit.core import repofiles, shell
from opskit.core.errors import OpsError
from opskit.lint import ci, cicheckers

ROOT = Path(__file__).resolve().parents[2]
STAGES = sorted(p.name for p in (ROOT / "ci").glob("*.sh") if not p.name.startswith("_"))
COPIED = ("ci", ".github", "bitbucket-pipelines.yml", "noxfile.py", "tasks.py", "opskit.yaml")


@pytest.fixture
def repo_copy(tmp_path: Path) -> Path:
    """The CI-relevant part of the repository, to break on purpose."""
    for name in COPIED:
        source = ROOT / name
        if source.is_dir():
            shutil.copytree(source, tmp_path / name)
        else:
            shutil.copy2(source, tmp_path / name)
    return tmp_path


def drop_steps(path: Path, script: str) -> None:
    """Remove every CI step (GitHub `run:` / Bitbucket `script:` line) that runs `script`."""

    def prune(node):
        if isinstance(node, dict):
            return {k: prune(v) for k, v in node.items()}
        if isinstance(node, list):
            kept = [i for i in node if not (isinstance(i, dict) and i.get("run") == script)]
            return [prune(i) for i in kept if i != script]
        return node

    path.write_text(yaml.safe_dump(prune(yaml.safe_load(path.read_text())), sort_keys=False))


def write_stage(root: Path, name: str, body: str) -> Path:
    path = root / "ci" / name
    path.write_text(f'#!/usr/bin/env bash\nsource "$(dirname "$0")/_lib.sh"\nsetup\n{body}\n')
    return path


def test_both_ci_files_pass_their_vendored_schemas():
    assert cicheckers.schema_problems(ROOT) == []


def test_schema_violation_is_reported(repo_copy: Path):
    workflow = repo_copy / ".github/workflows/ci.yml"
    workflow.write_text(workflow.read_text().replace("runs-on:", "runs_on:", 1))
    problems = cicheckers.schema_problems(repo_copy)
    assert len(problems) == 1
    assert problems[0].startswith("vendor.github-workflows:")


def test_github_and_bitbucket_run_the_same_existing_calls():
    assert ci.check(ROOT) == []


def test_every_stage_the_brief_names_is_reached_by_both_systems():
    github = ci.scripts_used(ci.github_steps(ROOT))
    bitbucket = ci.scripts_used(ci.bitbucket_steps(ROOT))
    assert github == bitbucket == {f"ci/{name}" for name in STAGES}
    for stage in ("lint", "tests", "e2e", "image", "deploy", "cluster-smoke", "release"):
        assert f"ci/{stage}.sh" in github


def test_parity_fails_when_bitbucket_misses_a_stage(repo_copy: Path):
    drop_steps(repo_copy / "bitbucket-pipelines.yml", "ci/e2e.sh")
    problems = ci.check(repo_copy)
    assert (
        "Bitbucket Pipelines never runs `nox -s e2e`, which GitHub Actions runs; "
        "add the same ci/ step to both" in problems
    )


def test_parity_fails_when_github_misses_a_stage(repo_copy: Path):
    drop_steps(repo_copy / ".github/workflows/ci.yml", "ci/cluster-smoke.sh")
    problems = ci.check(repo_copy)
    assert any(p.startswith("GitHub Actions never runs `nox -s cluster-smoke") for p in problems)


def test_a_stage_script_run_by_neither_system_is_reported(repo_copy: Path):
    write_stage(repo_copy, "orphan.sh", "exec nox -s tests")
    assert (
        "ci/orphan.sh (nox -s tests) is run by neither CI system; call it from both or "
        "delete it" in ci.check(repo_copy)
    )


def test_a_call_to_a_session_that_does_not_exist_is_reported(repo_copy: Path):
    write_stage(repo_copy, "lint.sh", "exec nox -s lint-everything")
    problems = ci.check(repo_copy)
    assert "`nox -s lint-everything`: no nox session by that name; see `nox -l`" in (problems)


def test_logic_in_a_ci_file_is_rejected(repo_copy: Path):
    path = repo_copy / ".github/workflows/ci.yml"
    path.write_text(
        path.read_text().replace("- run: ci/lint.sh", "- run: pip install . && ci/lint.sh")
    )
    problems = ci.check(repo_copy)
    assert any(
        "step `pip install . && ci/lint.sh` is not a single ci/<stage>.sh call" in p
        for p in problems
    )


@pytest.mark.parametrize("name", STAGES)
def test_every_repo_stage_script_makes_one_nox_or_invoke_call(name: str):
    call = ci.stage_call(ROOT / "ci" / name)
    assert call.tool in ("nox", "invoke")
    assert call.argv[0] == call.tool


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ("nox -s lint\ninvoke image.build", "makes 2 nox/invoke calls"),
        ("nox -s lint && nox -s tests", "makes 2 nox/invoke calls"),
        ("invoke image.build; exec nox -s e2e", "makes 2 nox/invoke calls"),
        ("echo nothing to run", "makes 0 nox/invoke calls (none)"),
        ("exec nox -s lint tests", "runs 2 nox targets (lint tests)"),
        ("exec invoke image.build image.push", "runs 2 invoke targets"),
    ],
)
def test_a_stage_script_that_calls_two_things_or_none_is_rejected(
    tmp_path: Path, body: str, expected: str
):
    (tmp_path / "ci").mkdir()
    with pytest.raises(OpsError, match=expected.replace("(", r"\(").replace(")", r"\)")):
        ci.stage_call(write_stage(tmp_path, "bad.sh", body))


@pytest.mark.parametrize(
    ("line", "call"),
    [
        ("exec nox -s lint", ("nox", "lint", ("nox", "-s", "lint"))),
        ("exec .venv/bin/nox --session cluster-smoke -- -k tls", ("nox", "cluster-smoke", None)),
        ("invoke deploy --overlay=dev  # comment", ("invoke", "deploy", None)),
        ("exec invoke release --overlay=dev --push", ("invoke", "release", None)),
    ],
)
def test_stage_calls_are_parsed(tmp_path: Path, line: str, call: tuple):
    (tmp_path / "ci").mkdir()
    parsed = ci.stage_call(write_stage(tmp_path, "stage.sh", line))
    assert (parsed.tool, parsed.target) == call[:2]
    if call[2]:
        assert parsed.argv == call[2]


def test_invoke_listing_is_flattened_with_namespaces_defaults_and_aliases():
    listing = {
        "tasks": [{"name": "deploy", "aliases": ["ship"]}],
        "collections": [
            {
                "name": "config",
                "default": "show",
                "collections": [],
                "tasks": [{"name": "show", "aliases": []}],
            },
        ],
    }
    assert ci._flatten(listing, "") == {"deploy", "ship", "config", "config.show"}


def test_shell_scripts_are_found_by_extension_or_shebang(tmp_path: Path):
    shell.run(["git", "init", "-q", str(tmp_path)])
    (tmp_path / ".gitignore").write_text("ignored.sh\n")
    files = {
        "a.sh": "echo a\n",
        "run": "#!/usr/bin/env bash\necho b\n",
        "legacy": "#!/bin/sh\necho c\n",
        "tool.py": "#!/usr/bin/env python3\n",
        "notes.txt": "sh is a shell\n",
        "ignored.sh": "echo d\n",
    }
    for name, text in files.items():
        (tmp_path / name).write_text(text)
    found = [p.name for p in repofiles.shell_scripts(tmp_path)]
    assert found == ["a.sh", "legacy", "run"]


def test_the_repository_shell_scripts_include_ci_and_entry_scripts():
    found = {str(p.relative_to(ROOT)) for p in repofiles.shell_scripts(ROOT)}
    assert {f"ci/{name}" for name in STAGES} | {"ci/_lib.sh"} <= found
    for entry in (".ci/run", "bootstrap.sh"):
        if (ROOT / entry).exists():
            assert entry in found


@pytest.mark.tools("shellcheck")
def test_shellcheck_reports_findings_one_line_each(tmp_path: Path):
    script = tmp_path / "bad.sh"
    script.write_text("#!/usr/bin/env bash\nrm -rf $1/tmp\n")
    findings = repofiles.shellcheck(tmp_path, [script])
    assert len(findings) == 1
    assert findings[0].startswith("bad.sh:2:")
    assert "[SC2086]" in findings[0]


@pytest.mark.tools("shellcheck")
def test_shellcheck_passes_on_the_repository():
    assert repofiles.shellcheck(ROOT, repofiles.shell_scripts(ROOT)) == []


@pytest.mark.tools("actionlint")
def test_actionlint_passes_on_the_repository():
    assert cicheckers.actionlint_problems(ROOT) == []


@pytest.mark.tools("actionlint")
def test_actionlint_reports_a_broken_workflow(repo_copy: Path):
    workflow = repo_copy / ".github/workflows/ci.yml"
    workflow.write_text(workflow.read_text().replace("|| github.ref }}", "|| gitlab.ref }}", 1))
    problems = cicheckers.actionlint_problems(repo_copy)
    assert len(problems) == 1
    assert problems[0].startswith("actionlint: .github/workflows/ci.yml:")
    assert "gitlab" in problems[0]


def test_nox_tests_builds_every_go_tool_a_fast_test_runs():
    """Under CI a missing tool fails its test: the session must build each one they name."""
    import ast
    import re

    from tests.toolgate import GO_BUILT

    tree = ast.parse((ROOT / "noxfile.py").read_text())
    tests_session = next(
        node for node in tree.body if isinstance(node, ast.FunctionDef) and node.name == "tests"
    )
    needed = next(
        ast.literal_eval(node.value)
        for node in ast.walk(tests_session)
        if isinstance(node, ast.Assign) and getattr(node.targets[0], "id", "") == "needed"
    )
    named: set[str] = set()
    for folder in ("tests/unit", "tests/manifests"):
        for file in (ROOT / folder).rglob("*.py"):
            for args in re.findall(r"mark\.tools\(([^)]*)\)", file.read_text()):
                named.update(re.findall(r"\"([^\"]+)\"", args))
    assert sorted((named & GO_BUILT) - set(needed)) == []
