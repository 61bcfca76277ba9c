"""A KSOPS-compatible kustomize exec plugin: decrypt the generator's SOPS files with sops.

The overlays' `secrets/secret-generator.yaml` (apiVersion viaduct.ai/v1, kind ksops) names
`exec: path: ksops`; kustomize built with `--enable-alpha-plugins --enable-exec` runs the
`ksops` on PATH in the kustomization's folder and sends a KRM ResourceList on stdin (the
generator object is its functionConfig). Upstream KSOPS does exactly this in the repo-server
of a real cluster; on the embedded cluster this module is `ksops` (see argocd_local). The
plaintext exists only in this process's memory and on its stdout: sops's output is read
from a pipe, nothing is written to disk.

Usage: `python -m opskit.secrets.ksops < resource-list.yaml` (or a generator file as the one
argument: the legacy exec-plugin protocol).
"""

from __future__ import annotations

import sys
from pathlib import Path

import yaml

from opskit.core import shell, yamlio
from opskit.core.errors import OpsError

KIND = "ksops"
QUIET = {"SOPS_DISABLE_VERSION_CHECK": "1"}


def generator_config(text: str) -> dict:
    """The ksops object: the functionConfig of a ResourceList, or the object itself."""
    doc = yamlio.load(text, "the generator") or {}
    config = doc.get("functionConfig", doc) if doc.get("kind") == "ResourceList" else doc
    if (config or {}).get("kind") != KIND:
        raise OpsError(
            f"expected a generator of kind {KIND}, got {config.get('kind')!r}",
            "point `config.kubernetes.io/function: exec: path: ksops` at a kind: ksops file",
        )
    return config


def decrypt(file: Path) -> list[dict]:
    """The objects of one SOPS-encrypted YAML file, decrypted in memory."""
    if not file.is_file():
        raise OpsError(f"{file}: not found", "fix `files:` in the generator")
    result = shell.run(
        ["sops", "--decrypt", "--input-type", "yaml", "--output-type", "yaml", str(file)],
        env=QUIET,
        timeout=60,
        hint="the repo-server needs an age key of a recipient (SOPS_AGE_KEY_FILE)",
    )
    return [doc for doc in yamlio.load_all(result.stdout, str(file)) if isinstance(doc, dict)]


def generate(config: dict, folder: Path) -> list[dict]:
    """Every object of every file the generator lists (paths relative to `folder`)."""
    files = config.get("files") or []
    if not files:
        raise OpsError("the generator lists no `files:`", "add the *.sops.yaml files")
    return [obj for name in files for obj in decrypt(folder / name)]


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    try:
        if args:  # legacy exec plugin: the generator file is the argument
            config = generator_config(Path(args[0]).read_text())
            objects = generate(config, Path.cwd())
            sys.stdout.write(yaml.safe_dump_all(objects, sort_keys=False))
            return 0
        config = generator_config(sys.stdin.read())
        resource_list = {
            "apiVersion": "config.kubernetes.io/v1",
            "kind": "ResourceList",
            "items": generate(config, Path.cwd()),
        }
        sys.stdout.write(yaml.safe_dump(resource_list, sort_keys=False))
        return 0
    except OpsError as exc:
        print(f"ksops: error: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
