"""Static checks beyond ruff and yamllint: shell scripts, CI definitions, Elixir sources."""

from invoke import task

from opskit.core import toolcheck
from opskit.tasks._common import load_config, opskit_task, say

ELIXIR_SUFFIXES = (".ex", ".exs", ".heex")


@task
@opskit_task
def shell(c):
    """shellcheck every shell script git knows about (*.sh, or a sh/bash shebang)."""
    from opskit.core import repofiles
    from opskit.core.errors import OpsError

    root = load_config(c).root
    scripts = repofiles.shell_scripts(root)
    findings = repofiles.shellcheck(root, scripts)
    for line in findings:
        print(line)
    if findings:
        raise OpsError(
            f"shellcheck: {len(findings)} findings in {len(scripts)} scripts",
            "fix the lines above (shellcheck.net/wiki/SC<code> explains each)",
        )
    say(f"shellcheck: {len(scripts)} scripts clean")


@task(name="ci")
@opskit_task
def ci_files(c):
    """CI files: vendored schemas (offline), actionlint, GitHub/Bitbucket parity."""
    from opskit.core.errors import OpsError
    from opskit.lint import ci, cicheckers

    root = load_config(c).root
    problems = (
        cicheckers.schema_problems(root) + cicheckers.actionlint_problems(root) + ci.check(root)
    )
    for problem in problems:
        print(problem)
    if problems:
        raise OpsError(
            f"CI definitions: {len(problems)} problems",
            "fix them so both CI systems run the same ci/ scripts",
        )
    say("CI definitions valid; GitHub Actions and Bitbucket Pipelines run the same calls")


@task
@opskit_task
def elixir(c):
    """Syntax and format of the Elixir sources in git (no mix deps needed)."""
    from opskit.core import repofiles
    from opskit.core.errors import OpsError
    from opskit.lint import elixir

    root = load_config(c).root
    paths = [p for p in repofiles.tracked_files(root) if p.suffix in ELIXIR_SUFFIXES]
    problems = elixir.check(paths)
    for problem in problems:
        print(problem)
    if problems:
        raise OpsError(
            f"Elixir: {len(problems)} problems in {len(paths)} files",
            "fix them, or run `mix format` in app/",
        )
    say(f"Elixir: {len(paths)} files clean")


@task(name="kube-score")
@opskit_task
def kube_score(c):
    """kube-score over every rendered overlay; findings not in opskit/lint/kubescore.py fail."""
    from opskit.core.errors import OpsError
    from opskit.lint import kubescore

    cfg = load_config(c)
    toolcheck.require("kube-score")
    results = kubescore.score(cfg, "kube-score")  # shell resolves it in .tools/bin first
    new, stale = kubescore.verdict(results)
    for finding in new:
        print(finding)
    for entry in stale:
        print(f"opskit/lint/kubescore.py: IGNORED {entry.check} {entry.where}: matches nothing")
    if new or stale:
        raise OpsError(
            f"kube-score: {len(new)} new findings, {len(stale)} stale ignores",
            "fix the manifests, or add the finding to IGNORED with the reason it is deliberate",
        )
    counts = ", ".join(f"{name} {len(found)}" for name, found in results.items())
    say(f"kube-score: no new findings (deliberate, in opskit/lint/kubescore.py: {counts})")
