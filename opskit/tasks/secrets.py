"""Secrets with sops + age: values are encrypted in git and decrypted only in memory."""

from invoke import Exit, task

from opskit.tasks._common import DRY_RUN_HELP, OVERLAY_HELP, load_config, opskit_task, say

NAME_HELP = "Secret name (file k8s/overlays/<overlay>/secrets/<name>.sops.yaml)"


@task(
    help={
        "overlay": OVERLAY_HELP,
        "force": "regenerate every value even if they exist",
        "dry_run": DRY_RUN_HELP,
    }
)
@opskit_task
def init(c, overlay="dev", force=False, dry_run=False):
    """Create your age key if needed, add it to the overlay's recipients, generate its Secrets."""
    from opskit.secrets import generate, sops

    cfg = load_config(c)
    report = generate.init(cfg, cfg.overlay(overlay), force=force, dry_run=dry_run)
    if dry_run:
        return say("dry run: nothing was changed (the commands above are what init would run)")
    origin = f"created at {sops.key_file()}" if report.key_created else "existing"
    say(f"age key {report.key} ({origin})")
    if report.recipient_added:
        say(f"added it to the {overlay} recipients in {sops.SOPS_CONFIG}")
    for note in report.notes:
        say(note)
    for rel in report.written:
        say(f"wrote {rel} (encrypted)")
    for rel in report.updated:
        say(f"re-encrypted {rel} to the recipients in {sops.SOPS_CONFIG}")
    if not (report.key_created or report.recipient_added or report.written or report.updated):
        say(f"{overlay} secrets are up to date; nothing changed")


@task(help={"overlay": OVERLAY_HELP, "name": NAME_HELP})
@opskit_task
def edit(c, overlay="dev", name="api-secrets"):
    """Edit one Secret in $EDITOR (sops decrypts to its editor and re-encrypts on save)."""
    from opskit.core import args
    from opskit.secrets import edit

    name = args.k8s_name(name, "--name", "Secret name")
    cfg = load_config(c)
    edit.edit(cfg, cfg.overlay(overlay), name)


@task(
    help={
        "overlay": OVERLAY_HELP,
        "force": "replace an existing Secret of that name",
        "dry_run": DRY_RUN_HELP,
    }
)
@opskit_task
def encrypt(c, overlay="dev", force=False, dry_run=False):
    """Encrypt one Secret manifest read from stdin into the overlay (only ciphertext on disk)."""
    import sys

    from opskit.core.errors import OpsError
    from opskit.secrets import generate

    cfg = load_config(c)
    if sys.stdin.isatty():
        raise OpsError(
            "no manifest on stdin",
            f"pipe one: `invoke secrets.encrypt --overlay {overlay} < secret.yaml`",
        )
    text = sys.stdin.read()
    rel = generate.encrypt_manifest(cfg, cfg.overlay(overlay), text, force=force, dry_run=dry_run)
    say(
        f"would write {rel} (encrypted); nothing changed" if dry_run else f"wrote {rel} (encrypted)"
    )


@task(help={"overlay": OVERLAY_HELP, "dry_run": DRY_RUN_HELP})
@opskit_task
def rotate(c, overlay="dev", dry_run=False):
    """New data key for the overlay's Secrets, encrypted to the recipients in .sops.yaml."""
    from opskit.secrets import sops

    cfg = load_config(c)
    for rel in sops.rotate(cfg, cfg.overlay(overlay), dry_run=dry_run):
        say(f"would rotate {rel}; nothing changed" if dry_run else f"rotated {rel}")


@task(
    help={
        "overlay": OVERLAY_HELP,
        "name": NAME_HELP,
        "yes": "print even when stdout is not a terminal (a file, a pipe, CI logs)",
    }
)
@opskit_task
def show(c, overlay="dev", name="api-secrets", yes=False):
    """Print one decrypted Secret to the terminal (refuses files and pipes unless --yes)."""
    import sys

    from opskit.core import args
    from opskit.core.errors import OpsError
    from opskit.secrets import edit

    name = args.k8s_name(name, "--name", "Secret name")
    cfg = load_config(c)
    if not (sys.stdout.isatty() or yes):
        raise OpsError(
            "refusing to write decrypted values to a file or pipe",
            "run it in a terminal, or pass --yes if you really mean it",
        )
    print(edit.show(cfg, cfg.overlay(overlay), name), end="")


@task
@opskit_task
def check(c):
    """Every Secret encrypted and decryptable by its recipients; no plaintext credentials."""
    from opskit.secrets import scan

    findings = scan.check(load_config(c))
    for line in findings:
        print(line)
    if findings:
        say(f"error: secrets.check found {len(findings)} problem(s)")
        raise Exit(code=1)
    say("secrets.check: no findings")
