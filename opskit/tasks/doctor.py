"""Check the machine: every external tool, its version, and what the default workflow needs."""

from invoke import Exit, task

from opskit.tasks._common import load_config, opskit_task, say


@task(help={"json": "print the result as JSON (keys documented in docs/tasks.md)"})
@opskit_task
def doctor(c, json=False):
    """Print a table of the external tools; exit 1 if the default workflow lacks one."""
    from opskit import clusters
    from opskit.core import tools
    from opskit.toolchain import doctor

    cfg = load_config(c)
    provider: str = cfg.cluster.provider
    if provider == "auto":
        provider = clusters.choose(report=lambda _line: None)
    rows = doctor.check(tools.WORKFLOW[provider])
    if json:
        import json as encoding

        print(encoding.dumps(doctor.as_json(rows, provider), indent=2, sort_keys=True))
        if doctor.failures(rows):
            raise Exit(code=1)
        return
    print(doctor.table(rows))
    print(f"\n* needed by the default workflow (cluster provider: {provider})")
    if warning := doctor.kubectl_warning(cfg, rows):
        say(f"warning: {warning}")
    if provider == "minikube" and (note := doctor.minikube_note(cfg, rows)):
        say(f"note: {note}")
    missing = doctor.failures(rows)
    if missing:
        say(
            f"error: missing or too old for the {provider} workflow: {', '.join(missing)}; "
            "see the hint column (`invoke tools.install` builds the Go tools)"
        )
        raise Exit(code=1)
    if stale := doctor.stale_tools(cfg):
        say(
            f"error: .tools/bin is older than the pins in opskit.yaml/tools/: {', '.join(stale)}; "
            "run `invoke tools.install` (it rebuilds only these)"
        )
        raise Exit(code=1)
