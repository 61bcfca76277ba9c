"""Promote: move to the next overlay exactly the images the previous one was proven healthy
with, as a reviewable git commit; follow it through ArgoCD and take it back if it fails."""

from __future__ import annotations

from invoke import task

from opskit.tasks._common import DRY_RUN_HELP, connect, load_config, opskit_task, say


@task(
    auto_shortflags=False,  # -h would be --history, not help
    help={
        "from_": "overlay whose proven-healthy images are promoted (default: dev)",
        "to": "overlay that receives them (default: prod); a protected one gets a branch "
        "promote/<from>-<rev>-to-<to> and the command that opens its pull request on the "
        "remote's host (GitHub: gh; Bitbucket: curl with $BITBUCKET_TOKEN)",
        "push": "also push the commit (the branch, for a protected overlay)",
        "watch": "wait until ArgoCD has the target Synced+Healthy at the promotion (for a "
        "protected overlay: after its pull request is merged); on Degraded or timeout revert "
        "it in git (pushed) and exit 1",
        "soak": "require the source to have been healthy at the revision this long "
        "(e.g. 30m, 2h, 1d; default: 0)",
        "timeout": "seconds --watch waits for the merge, then for Healthy (default: 180)",
        "history": "list the promotions into --to with their evidence, from git log",
        "deploy_report": "evidence instead of ArgoCD: report.json of `invoke deploy --report` "
        "of the source (needs --smoke-report)",
        "smoke_report": "report.json of `nox -s cluster-smoke -- --report` after that deploy",
        "dry_run": DRY_RUN_HELP,
    },
)
@opskit_task
def promote(
    c,
    from_="dev",
    to="prod",
    push=False,
    watch=False,
    soak="0",
    timeout="180",
    history=False,
    deploy_report=None,
    smoke_report=None,
    dry_run=False,
):
    """Promote the images an overlay runs proven healthy to the next one, as a git commit."""
    from opskit.core import args
    from opskit.gitops import promote, pull_request, release
    from opskit.gitops import watch as follow

    cfg = load_config(c)
    if history:
        return _history(cfg, to)
    soak_seconds = args.duration(soak, "--soak")
    wait = args.seconds(timeout, "--timeout")
    if bool(deploy_report) != bool(smoke_report):
        from opskit.core.errors import OpsError

        raise OpsError(
            "--deploy-report and --smoke-report go together", "pass both, or neither (ArgoCD)"
        )
    src, dst = promote.overlays(cfg, from_, to)
    promote.require_no_hold(cfg, dst)
    release.require_clean(cfg.root, f"promote {src.name} -> {dst.name}", "a promotion holds")
    if watch and dst.protected and not dry_run:
        promote.require_followed_branch(cfg)
    evidence = _evidence(cfg, src, deploy_report, smoke_report, soak_seconds)
    remote = pull_request.remote_of(cfg.root, release.REMOTE) if dst.protected else None
    since = evidence.time or "(no time recorded)"
    say(f"evidence: {src.name}@{evidence.revision[:12]}: {evidence.detail} since {since}")
    watching = None
    if watch and not dry_run:
        watching = follow.prepare(cfg, connect(cfg, dst, None).kube, dst, wait)
    result = promote.promote(cfg, src, dst, evidence, push=push, dry_run=dry_run)
    if not result.images:
        return say(f"nothing to promote: {dst.name} already pins {_images(result.tags)}")
    if dry_run:
        return say("dry run: nothing was changed")
    where = f" on branch {result.branch}" if result.branch else ""
    say(f"committed `{result.subject}` ({result.commit[:12]}){where}")
    _show_diff(cfg, result, remote)
    if result.pushed:
        say(f"pushed: {result.push_command()}")
    else:
        say(f"push it: {result.push_command()}")
    if watching is not None:
        _watch(cfg, watching, result, wait)


def _evidence(cfg, src, deploy_report, smoke_report, soak_seconds):
    from pathlib import Path

    from opskit.gitops import promotion_evidence

    if deploy_report:
        ev = promotion_evidence.from_reports(cfg, src, Path(deploy_report), Path(smoke_report))
    else:
        ev = promotion_evidence.from_argocd(cfg, connect(cfg, src, None).kube, src)
    promotion_evidence.require_soak(ev, soak_seconds, src.name)
    return ev


def _images(tags: dict[str, str]) -> str:
    return ", ".join(f"{name}:{tag}" for name, tag in tags.items())


def _show_diff(cfg, result, remote) -> None:
    """The offline manifests.diff of the promotion; for a branch, also the PR body and
    the command that opens the pull request on the remote's host."""
    from opskit.diff import formats, offline
    from opskit.gitops import pull_request

    diff = offline.run(cfg.root, result.base, result.commit, [result.target])
    print(formats.text(diff), end="", flush=True)
    say(formats.summary(diff))
    if result.branch and remote is not None:
        body = pull_request.write_body(cfg, result, formats.markdown(diff))
        say(f"pull-request body (Markdown): {body}")
        command = pull_request.command(remote, result, cfg.project.revision, body)
        say(f"open the pull request: {command}")
        if remote.host == "bitbucket":
            say(
                f"(${pull_request.TOKEN_VARIABLE}: a Bitbucket access token with the "
                "pullrequest:write scope, read from your environment)"
            )


def _watch(cfg, watching, result, wait) -> None:
    import time

    from opskit.gitops import promote
    from opskit.gitops import watch as follow

    started = time.monotonic()
    if result.branch:
        promote.wait_merged(cfg, result, wait, report=say)
    state = follow.watch_change(watching, cfg.root, promote.change(cfg, result), report=say)
    say(
        f"{state.name} Synced+Healthy at {state.revision[:12]} after "
        f"{time.monotonic() - started:.1f}s"
    )


def _history(cfg, to) -> None:
    from opskit.gitops import promotion_history

    target = cfg.overlay(to).name
    entries = promotion_history.history(cfg.root, target)
    if not entries:
        return say(f"no promotions into {target} in this clone's history")
    print(promotion_history.table(entries))
