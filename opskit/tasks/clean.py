"""Remove what the suite generates: caches and build output (never sources, keys or .venv)."""

from invoke import task

from opskit.tasks._common import DRY_RUN_HELP, load_config, opskit_task, say

GENERATED = (".nox", ".pytest_cache", ".ruff_cache", "htmlcov", ".coverage", "build", "dist")


@task(help={"dry_run": DRY_RUN_HELP})
@opskit_task
def clean(c, dry_run=False):
    """Remove caches and build output (.nox, .pytest_cache, .ruff_cache, htmlcov, coverage)."""
    import shutil

    root = load_config(c).root
    for name in GENERATED:
        path = root / name
        if not path.exists():
            continue
        if dry_run:
            say(f"[dry-run] would remove {name}")
            continue
        if path.is_dir():
            shutil.rmtree(path)
        else:
            path.unlink()
        say(f"removed {name}")
