"""Local TLS with mkcert: a project CA (git-ignored .certs/ca) and one certificate per overlay."""

from invoke import task

from opskit.tasks._common import DRY_RUN_HELP, OVERLAY_HELP, load_config, opskit_task, say


@task(
    help={
        "trust": "also install the CA into the system/browser trust stores (may need sudo)",
        "dry_run": DRY_RUN_HELP,
    }
)
@opskit_task
def init(c, trust=False, dry_run=False):
    """Create the project-local mkcert CA (not trusted system-wide unless --trust)."""
    from opskit.secrets import certs

    cfg = load_config(c)
    created = certs.init_ca(cfg, trust=trust, dry_run=dry_run)
    if dry_run:
        return say("dry run: nothing was changed")
    say(
        f"CA {'created' if created else 'exists'}: {certs.ca_file(cfg)}"
        + (" (installed into the trust stores)" if trust else "")
    )


@task(
    help={
        "overlay": OVERLAY_HELP,
        "force": "re-issue even if the certificate is valid",
        "dry_run": DRY_RUN_HELP,
    }
)
@opskit_task
def issue(c, overlay="dev", force=False, dry_run=False):
    """Issue the overlay's certificates: its Ingress hosts and the MQTT broker (again if
    expiring, mismatched, foreign)."""
    from opskit.secrets import certs

    cfg = load_config(c)
    ov = cfg.overlay(overlay)
    for which in (certs.ingress_cert(ov), certs.broker_cert(ov)):
        result = certs.issue(cfg, ov, force=force, dry_run=dry_run, which=which)
        cert, _ = certs.cert_paths(cfg, ov, which)
        hosts = ", ".join(which.hosts)
        if dry_run and not result.fresh:
            say(f"would issue {cert} for {hosts} ({result.reason}); nothing changed")
        elif result.fresh:
            say(f"{cert} is valid for {hosts}; nothing to do")
        else:
            say(f"issued {cert} for {hosts} ({result.reason})")
