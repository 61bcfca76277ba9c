"""What `invoke deploy` and `invoke manifests.validate` stand for, as the raw commands a
person would type: the baselines of the side-by-side measurements."""

from __future__ import annotations

import re
from pathlib import Path

from bench.workspace import Workspace

PLACEHOLDER_TAG = "000000000000"  # the tag the overlays pin in git
WORKLOAD_KINDS = ("Deployment", "StatefulSet")
_API = re.compile(r"^apiVersion:\s*(\S+)\s*$", re.MULTILINE)
_KIND = re.compile(r"^kind:\s*(\S+)\s*$", re.MULTILINE)
_NAME = re.compile(r"^metadata:\n(?:[ ]{2,}.*\n)*?[ ]{2}name:\s*(\S+)\s*$", re.MULTILINE)


def documents(text: str) -> list[str]:
    """The YAML documents of a multi-document stream, as text (empty ones dropped)."""
    parts = re.split(r"^---\s*$", text, flags=re.MULTILINE)
    return [p.strip("\n") + "\n" for p in parts if p.strip()]


def drop_unserved(text: str, served: set[str]) -> str:
    """Keep the documents whose apiVersion the cluster serves (like `yq` in a pipeline):
    the raw apply must not fail on a CRD kind the kwok cluster lacks, as deploy skips them."""
    kept = [d for d in documents(text) if (m := _API.search(d)) and m.group(1) in served]
    return "---\n".join(kept)


def workloads(text: str) -> list[str]:
    """`deployment/api`-style references of the Deployments and StatefulSets in `text`."""
    found = []
    for doc in documents(text):
        kind, name = _KIND.search(doc), _NAME.search(doc)
        if kind and name and kind.group(1) in WORKLOAD_KINDS:
            found.append(f"{kind.group(1).lower()}/{name.group(1)}")
    return found


def pin(text: str, images: tuple[str, ...], tag: str) -> str:
    """Every image of the repository pinned to `tag` (what `sed` would do to the stream)."""
    for image in images:
        text = text.replace(f"{image}:{PLACEHOLDER_TAG}", f"{image}:{tag}")
    return text


def render(ws: Workspace, overlay_path: Path) -> str:
    return ws.tool("kubectl", "kustomize", str(overlay_path))


def payload(
    ws: Workspace,
    overlay_path: Path,
    namespace: str,
    images: tuple[str, ...],
    served: set[str],
    cert: tuple[Path, Path] | None,
) -> tuple[str, list[str]]:
    """git rev-parse | kubectl kustomize | pin | sops -d each Secret | (TLS Secret): what the
    apply sends (in memory), and the workloads to wait for."""
    tag = ws.tool("git", "rev-parse", "--short=12", "HEAD").strip()
    rendered = pin(render(ws, overlay_path), images, tag)
    parts = [drop_unserved(rendered, served)]
    for secret in sorted((overlay_path / "secrets").glob("*.sops.yaml")):
        parts.append(ws.tool("sops", "--decrypt", str(secret)))
    if cert is not None:
        parts.append(
            ws.kubectl(
                "create",
                "secret",
                "tls",
                "api-tls",
                f"--cert={cert[0]}",
                f"--key={cert[1]}",
                "-n",
                namespace,
                "--dry-run=client",
                "-o",
                "yaml",
            )
        )
    return "---\n".join(p.strip("\n") + "\n" for p in parts), workloads(rendered)


# the suite's apply: every object passed the offline schemas first, so the server-side
# apply skips kubectl's client-side validation (its OpenAPI download); so does the baseline
APPLY = ("apply", "--server-side", "--validate=false", "--force-conflicts", "-f", "-")


def apply(ws: Workspace, text: str, manager: str = "raw") -> None:
    ws.kubectl(*APPLY, f"--field-manager={manager}", stdin=text)


def wait_all(ws: Workspace, refs: list[str], namespace: str) -> None:
    """`kubectl rollout status` of every workload at once, as the suite waits for all of
    them in one loop (a person would background them: `... & wait`)."""
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(max_workers=max(1, len(refs))) as pool:
        list(
            pool.map(
                lambda ref: ws.kubectl("rollout", "status", ref, "-n", namespace, "--timeout=180s"),
                refs,
            )
        )


def deploy(ws: Workspace, overlay_path: Path, namespace: str, *rest) -> None:
    """The raw commands: render, pin, decrypt, apply, wait for every workload (`rest`: the
    images, served API versions and certificate, as for `payload`)."""
    text, refs = payload(ws, overlay_path, namespace, *rest)
    apply(ws, text)
    wait_all(ws, refs, namespace)


# its own field manager: the floor's apply must not take fields from the suite's (its TLS
# Secret has no labels); after its first apply (which adds its managedFields entry) both
# applies leave the objects as they are
FLOOR_MANAGER = "bench-floor"


def floor(ws: Workspace, overlay_path: Path, text: str) -> float:
    """The least a no-op redeploy has to do, timed as separate processes: start Python,
    ask git for HEAD, decrypt one Secret, one server-side apply of everything (`text`, the
    overlay as the suite applies it, fed from memory)."""
    import time

    secret = sorted((overlay_path / "secrets").glob("*.sops.yaml"))[0]
    steps = (
        lambda: ws.tool("python", "-c", "pass"),
        lambda: ws.tool("git", "rev-parse", "HEAD"),
        lambda: ws.tool("sops", "--decrypt", str(secret)),
        lambda: apply(ws, text, FLOOR_MANAGER),
    )
    total = 0.0
    for step in steps:
        started = time.perf_counter()
        step()
        total += time.perf_counter() - started
    return total


def render_all(ws: Workspace, overlay_paths: list[Path]) -> None:
    """`for o in ...; do kubectl kustomize k8s/overlays/$o; done`."""
    for path in overlay_paths:
        render(ws, path)
