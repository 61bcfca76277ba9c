"""sops + age: the user's key, each overlay's recipients, Secrets encrypted at rest and
decrypted only in memory (for `secrets.show` and the deploy's apply step).

Creating keys, recipients and Secrets (`secrets.init`, `secrets.encrypt`) is in
`opskit.secrets.generate`; the repository scan (`secrets.check`) is in `opskit.secrets.scan`.
"""

from __future__ import annotations

import contextlib
import os
import re
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from opskit.core import args, paths, shell
from opskit.core.errors import CommandFailed, OpsError

if TYPE_CHECKING:
    from opskit.core.config import Config, Overlay

SOPS_CONFIG = ".sops.yaml"
SUFFIX = ".sops.yaml"
SOPS_TIMEOUT = 60


# --- the user's age key --------------------------------------------------------------------


def key_file() -> Path:
    """Where sops looks for age identities: $SOPS_AGE_KEY_FILE, else the XDG config folder."""
    if env := os.environ.get("SOPS_AGE_KEY_FILE"):
        return Path(env).expanduser()
    base = os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config"
    return Path(base) / "sops" / "age" / "keys.txt"


def my_recipients() -> tuple[str, ...]:
    """Public keys of the user's age identities; () when there are none."""
    if content := os.environ.get("SOPS_AGE_KEY"):
        shell.secret(content)
        found = shell.run(["age-keygen", "-y"], stdin=content, timeout=20)
    elif key_file().is_file():
        found = shell.run(["age-keygen", "-y", str(key_file())], timeout=20)
    else:
        return ()
    return tuple(found.stdout.split())


# --- .sops.yaml ----------------------------------------------------------------------------


def repo_rel(cfg: Config, path: Path) -> str:
    """A path as .sops.yaml rules and messages name it: relative to the repository root."""
    real, top = path.resolve(), cfg.root.resolve()
    if not real.is_relative_to(top):
        raise OpsError(
            f"{path} resolves to {real}, outside the repository {top} (a symlink?)",
            "keep overlays and their secrets/ folders inside the repository, not symlinked out",
        )
    return real.relative_to(top).as_posix()


def rules(cfg: Config) -> list[dict]:
    from opskit.core import yamlio

    file = cfg.root / SOPS_CONFIG
    data = yamlio.load_file(file) if file.exists() else None
    return list((data or {}).get("creation_rules") or [])


def rule_recipients(rule: dict) -> tuple[str, ...]:
    """The age public keys a creation rule lists (a YAML list or sops' comma-separated form)."""
    age = rule.get("age") or ""
    items = age if isinstance(age, list) else age.split(",")
    return tuple(k.strip() for k in items if k.strip())


def rule_for(cfg: Config, rel: str) -> dict | None:
    """The first creation rule whose path_regex matches a repo-relative path, as sops picks
    it: in order, a rule without a path_regex (or an empty one) matching every file."""
    return next((r for r in rules(cfg) if re.search(r.get("path_regex") or "", rel)), None)


def overlay_recipients(cfg: Config, overlay: Overlay) -> tuple[str, ...]:
    rule = rule_for(cfg, repo_rel(cfg, secret_path(overlay, "x")))
    return rule_recipients(rule) if rule else ()


def write_atomic(path: Path, text: str, what: str, dry_run: bool) -> None:
    """Write a (non-secret) file atomically; under dry-run only say so."""
    if dry_run:
        print(f"[dry-run] {what}", file=sys.stderr)
        return
    paths.write_atomic(path, text)


# --- encrypted files -----------------------------------------------------------------------


def secrets_dir(overlay: Overlay) -> Path:
    """The overlay's secrets/ folder, refused when a symlink takes it anywhere else."""
    folder = overlay.path / "secrets"
    paths.confine(folder, overlay.path.resolve() / "secrets", "the overlay's secrets folder")
    return folder


def secret_path(overlay: Overlay, name: str) -> Path:
    """secrets/<name>.sops.yaml of the overlay: a valid name, and the file not a symlink."""
    folder = secrets_dir(overlay)
    path = folder / f"{args.k8s_name(name, 'Secret name')}{SUFFIX}"  # never a path
    paths.confine(path, folder.resolve() / path.name, "a Secret file")
    return path


def secret_files(overlay: Overlay) -> list[Path]:
    """Every encrypted file of the overlay; one that is a symlink or misnamed is refused."""
    found = sorted(secrets_dir(overlay).glob(f"*{SUFFIX}"))
    return [secret_path(overlay, path.name.removesuffix(SUFFIX)) for path in found]


def stub(path: Path, overlay: Overlay) -> dict:
    """The kind, name and namespace of an encrypted Secret (plaintext in the file): enough
    to read it from the cluster without decrypting it."""
    doc = load_doc(path)
    meta = doc.get("metadata") or {}
    return {
        "apiVersion": doc.get("apiVersion", "v1"),
        "kind": doc.get("kind", "Secret"),
        "metadata": {
            "name": meta.get("name"),
            "namespace": meta.get("namespace") or overlay.namespace,
        },
    }


def load_doc(path: Path) -> dict:
    """An encrypted file's document (its keys are plaintext, its values ciphertext)."""
    from opskit.core import yamlio

    doc = yamlio.load_file(path)
    if not isinstance(doc, dict):
        raise OpsError(f"{path}: not a SOPS-encrypted YAML mapping", "restore it from git")
    return doc


def doc_recipients(doc: dict) -> tuple[str, ...]:
    """The age recipients recorded in an encrypted document's `sops` block."""
    return tuple(a.get("recipient", "") for a in (doc.get("sops") or {}).get("age") or [])


def file_recipients(path: Path) -> tuple[str, ...]:
    """The age recipients recorded in an encrypted file (no decryption needed)."""
    return doc_recipients(load_doc(path))


def sops_step(cfg: Config, *args: str, **options) -> shell.Step:
    """sops run from the repository root, so .sops.yaml's path_regex sees repo-relative paths."""
    options.setdefault("timeout", SOPS_TIMEOUT)
    return shell.Step(argv=("sops", *args), cwd=str(cfg.root), **options)


def run_sops(
    cfg: Config, *args: str, check: bool = True, dry_run: bool = False, **options
) -> shell.Result:
    return shell.run_step(sops_step(cfg, *args, **options), check=check, dry_run=dry_run)


def encrypt(cfg: Config, path: Path, plaintext: str, dry_run: bool = False) -> None:
    """Encrypt a manifest held in memory through sops' stdin; only ciphertext reaches the disk."""
    rel = repo_rel(cfg, path)
    if rule_for(cfg, rel) is None and not dry_run:  # dry-run: the rule was not written
        raise OpsError(
            f"no creation rule in {SOPS_CONFIG} matches {rel}",
            "run `invoke secrets.init --overlay <name>` first",
        )
    yaml_io = ("--input-type", "yaml", "--output-type", "yaml")
    done = run_sops(
        cfg,
        *("--encrypt", "--filename-override", rel, *yaml_io, "/dev/stdin"),
        stdin=plaintext,
        mutates=True,
        dry_run=dry_run,
        what=f"encrypt {rel}",
    )
    write_atomic(path, done.stdout, f"write {rel}", dry_run)


def register_values(manifest: str) -> None:
    """Mask every value of a decrypted Secret (and its base64 form) in all output."""
    import base64
    import binascii

    from opskit.core import yamlio

    for doc in yamlio.load_all(manifest, "a decrypted Secret"):
        if not isinstance(doc, dict):
            continue
        for value in (doc.get("stringData") or {}).values():
            mask(str(value))
        for value in (doc.get("data") or {}).values():
            shell.secret(str(value))
            with contextlib.suppress(binascii.Error, UnicodeDecodeError):
                mask(base64.b64decode(str(value), validate=True).decode())


def mask(value: str) -> None:
    """A value, and each line of a multi-line one (a password file prints line by line)."""
    shell.secret(value)
    for line in value.splitlines() if "\n" in value.strip() else ():
        if line.strip():
            shell.secret(line.strip())


def cannot_decrypt(cfg: Config, overlay: Overlay, path: Path, mine: tuple[str, ...]) -> OpsError:
    """The one-line error for a file not encrypted to any of the user's keys, with the way out."""
    needed = ", ".join(file_recipients(path)) or "(no age recipients)"
    rel = repo_rel(cfg, path)
    if not mine:
        return OpsError(
            f"overlay {overlay.name!r}: {rel} needs an age key for one of {needed}; "
            f"you have none at {key_file()}",
            f"run `invoke secrets.init --overlay {overlay.name}`",
        )
    how = (
        f"ask a holder of one of those keys to run `invoke secrets.rotate --overlay "
        f"{overlay.name}` after `invoke secrets.init --overlay {overlay.name}` added yours"
    )
    if not overlay.protected:
        how += f" (or regenerate dev values: `invoke secrets.init --overlay {overlay.name}`)"
    return OpsError(
        f"overlay {overlay.name!r}: {rel} is encrypted to {needed}, "
        f"not to your key {', '.join(mine)}",
        how,
    )


def opens(path: Path, mine: tuple[str, ...]) -> bool:
    """Whether one of the user's keys is among the file's recipients."""
    return bool(set(mine) & set(file_recipients(path)))


def require_access(cfg: Config, overlay: Overlay, files: list[Path], mine: tuple[str, ...]) -> None:
    """All-or-nothing: fail on the first file the user's keys cannot open, before any work."""
    for path in files:
        if not opens(path, mine):
            raise cannot_decrypt(cfg, overlay, path, mine)


def decrypt(cfg: Config, overlay: Overlay, path: Path, mine: tuple[str, ...] | None = None) -> str:
    """One decrypted manifest, in memory, its values registered for redaction."""
    mine = my_recipients() if mine is None else mine
    require_access(cfg, overlay, [path], mine)
    rel = repo_rel(cfg, path)
    try:
        out = run_sops(cfg, "--decrypt", rel)
    except CommandFailed as exc:
        last = (exc.stderr_tail.strip().splitlines() or ["no output"])[-1]
        raise OpsError(
            f"overlay {overlay.name!r}: cannot decrypt {rel}: {last}",
            "check your key and the file (`invoke secrets.check`)",
        ) from None
    register_values(out.stdout)
    return out.stdout


def decrypted_secrets(cfg: Config, overlay: Overlay, only: list[Path] | None = None) -> list[bytes]:
    """Every Secret of the overlay (or the `only` files of it) decrypted in memory, all
    before any is applied; one sops process per file, at once.

    Validation first: a file the user's key cannot open fails with one line naming the overlay
    and the recipients it needs, before any decryption starts.
    """
    from concurrent.futures import ThreadPoolExecutor

    files = secret_files(overlay)
    if not files:
        raise OpsError(
            f"overlay {overlay.name!r} has no encrypted Secrets in "
            f"{repo_rel(cfg, overlay.path)}/secrets",
            f"run `invoke secrets.init --overlay {overlay.name}`",
        )
    files = files if only is None else [f for f in files if f in set(only)]
    if not files:
        return []
    source = (_identity(), *((str(path), path.read_bytes()) for path in files))
    known = _decrypted.get(overlay.name)
    if known is not None and known[0] == source:
        for manifest in known[1]:
            register_values(manifest)
        return [manifest.encode() for manifest in known[1]]
    mine = my_recipients()
    require_access(cfg, overlay, files, mine)
    with ThreadPoolExecutor(max_workers=min(4, len(files))) as pool:
        manifests = list(pool.map(lambda path: decrypt(cfg, overlay, path, mine), files))
    _decrypted[overlay.name] = (source, manifests)
    return [manifest.encode() for manifest in manifests]


# A long-lived process (`invoke dev`) decrypts an overlay again only when one of its files
# or the user's key changed: overlay -> (what it was decrypted from, the manifests).
_decrypted: dict[str, tuple[tuple, list[str]]] = {}


def _identity() -> tuple:
    """What decryption depends on besides the files: the user's age key."""
    if content := os.environ.get("SOPS_AGE_KEY"):
        return ("env", content)
    file = key_file()
    stat = file.stat() if file.is_file() else None
    return (str(file), stat and (stat.st_ino, stat.st_mtime_ns, stat.st_size))


def update_keys(cfg: Config, path: Path, dry_run: bool = False) -> None:
    """Re-encrypt the data key to exactly the recipients .sops.yaml lists for the file."""
    rel = repo_rel(cfg, path)
    run_sops(
        cfg, "updatekeys", "--yes", rel, mutates=True, dry_run=dry_run, what="update recipients"
    )


def rotate(cfg: Config, overlay: Overlay, dry_run: bool = False) -> list[str]:
    """New data key for every file of the overlay, encrypted to the current recipients."""
    files = secret_files(overlay)
    require_access(cfg, overlay, files, my_recipients())
    rels = [repo_rel(cfg, p) for p in files]
    for path, rel in zip(files, rels, strict=True):
        update_keys(cfg, path, dry_run)
        run_sops(
            cfg, "rotate", "--in-place", rel, mutates=True, dry_run=dry_run, what="rotate data key"
        )
    return rels
