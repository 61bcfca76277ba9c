"""The raw commands a person would type for what the suite does on the embedded cluster's
real node: the baselines of the `node` scenario (bench/node.py)."""

from __future__ import annotations

import json
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path

import yaml

from bench import raw
from bench.workspace import BenchError, Workspace

STORAGE_CLASS = "standard"  # the embedded cluster's default StorageClass


def kustomization(overlay: Path, components: tuple[Path, ...], folder: Path) -> str:
    """A kustomization naming the overlay and adding the cluster's components (relative
    paths: kustomize takes no others), written once by hand beside the overlay."""
    import os

    body = {
        "apiVersion": "kustomize.config.k8s.io/v1beta1",
        "kind": "Kustomization",
        "resources": [os.path.relpath(overlay, folder)],
        "components": [os.path.relpath(c, folder) for c in components],
    }
    return json.dumps(body)


def claims(text: str, namespace: str) -> list[tuple[str, str, str]]:
    """(namespace, claim, size) of every claim the StatefulSets in `text` make, one per
    replica and claim template (what a person reads off the manifests)."""
    found = []
    for doc in yaml.safe_load_all(text):
        if not doc or doc.get("kind") != "StatefulSet":
            continue
        spec = doc.get("spec") or {}
        where = doc["metadata"].get("namespace") or namespace
        for template in spec.get("volumeClaimTemplates") or []:
            claim = template.get("spec") or {}
            if claim.get("storageClassName", STORAGE_CLASS) != STORAGE_CLASS:
                continue
            size = ((claim.get("resources") or {}).get("requests") or {}).get("storage", "1Gi")
            for ordinal in range(int(spec.get("replicas", 1))):
                name = f"{template['metadata']['name']}-{doc['metadata']['name']}-{ordinal}"
                found.append((where, name, str(size)))
    return found


def local_volume(claim: tuple[str, str, str], folder: Path, node: str) -> dict:
    """A `local` PersistentVolume on `node` in `folder`, bound in advance to the claim."""
    namespace, name, size = claim
    term = {"key": "kubernetes.io/hostname", "operator": "In", "values": [node]}
    return {
        "apiVersion": "v1",
        "kind": "PersistentVolume",
        "metadata": {"name": f"raw-{namespace}-{name}"[:253]},
        "spec": {
            "capacity": {"storage": size},
            "accessModes": ["ReadWriteOnce"],
            "persistentVolumeReclaimPolicy": "Retain",
            "storageClassName": STORAGE_CLASS,
            "claimRef": {"namespace": namespace, "name": name},
            "local": {"path": str(folder)},
            "nodeAffinity": {"required": {"nodeSelectorTerms": [{"matchExpressions": [term]}]}},
        },
    }


# what a pod needs before it is created (else it waits in CreateContainerConfigError and the
# kubelet's back-off), in the order `kubectl apply -f <folder>` users keep by file names
FIRST = ("Namespace", "Secret", "ConfigMap", "ServiceAccount", "PersistentVolume")


def ordered(text: str) -> str:
    """The documents of `text` with the Namespace, then what pods mount or reference
    first, the rest (workloads among them) after, each group in its own order."""

    def rank(doc: str) -> int:
        match = re.search(r"^kind:\s*(\S+)\s*$", doc, re.MULTILINE)
        kind = match.group(1) if match else ""
        return FIRST.index(kind) if kind in FIRST else len(FIRST)

    return "---\n".join(sorted(raw.documents(text), key=rank))


@dataclass(frozen=True)
class NodeRawDeploy:
    """render (overlay + the cluster's components) | pin | sops -d | the TLS Secrets (Ingress,
    MQTT broker), mkdir and
    a pre-bound local volume per claim, one server-side apply, rollout status of all. The
    images are in the node already (the fresh namespace's first deploy loads none)."""

    images: tuple[str, ...]
    served: set[str]
    components: tuple[Path, ...]
    volumes: Path  # the folders of the local volumes, below the node's home
    node: str

    def payload(self, ws: Workspace, slot) -> str:
        return self.render(ws, slot)[0]

    def render(self, ws: Workspace, slot) -> tuple[str, list[str]]:
        with tempfile.TemporaryDirectory(prefix="bench-raw-render-") as folder:
            Path(folder, "kustomization.yaml").write_text(
                kustomization(slot.path(ws), self.components, Path(folder))
            )
            rendered = raw.pin(raw.render(ws, Path(folder)), self.images, _tag(ws))
        parts = [raw.drop_unserved(rendered, self.served)]
        for secret in sorted((slot.path(ws) / "secrets").glob("*.sops.yaml")):
            parts.append(ws.tool("sops", "--decrypt", str(secret)))
        cert = ws.repo / ".certs" / slot.name
        if (cert / "cert.pem").is_file():
            parts.append(
                ws.kubectl(
                    "create",
                    "secret",
                    "tls",
                    "api-tls",
                    f"--cert={cert / 'cert.pem'}",
                    f"--key={cert / 'key.pem'}",
                    "-n",
                    slot.namespace,
                    "--dry-run=client",
                    "-o",
                    "yaml",
                )
            )
        broker = ws.repo / ".certs" / slot.name
        if (broker / "mqtt-cert.pem").is_file():  # the broker's, with the CA its clients trust
            parts.append(
                ws.kubectl(
                    "create",
                    "secret",
                    "generic",
                    "mqtt-tls",
                    "--type=kubernetes.io/tls",
                    f"--from-file=tls.crt={broker / 'mqtt-cert.pem'}",
                    f"--from-file=tls.key={broker / 'mqtt-key.pem'}",
                    f"--from-file=ca.crt={ws.repo / '.certs/ca/rootCA.pem'}",
                    "-n",
                    slot.namespace,
                    "--dry-run=client",
                    "-o",
                    "yaml",
                )
            )
        text = ordered("---\n".join(p.strip("\n") + "\n" for p in parts))
        return text, raw.workloads(rendered)

    def __call__(self, ws: Workspace, slot) -> None:
        text, refs = self.render(ws, slot)
        wanted = {self.volumes / c[0] / c[1]: c for c in claims(text, slot.namespace)}
        if wanted:
            ws.tool("mkdir", "-p", *map(str, wanted))
        volumes = [yaml.safe_dump(local_volume(c, f, self.node)) for f, c in wanted.items()]
        raw.apply(ws, ordered("---\n".join([*volumes, text])))
        try:
            raw.wait_all(ws, refs, slot.namespace)
        except BenchError as exc:  # which pods, in what state
            pods = ws.kubectl("get", "pods", "-n", slot.namespace, "-o", "wide")
            raise BenchError(f"{exc}\n{pods}") from None


def _tag(ws: Workspace) -> str:
    return ws.tool("git", "rev-parse", "--short=12", "HEAD").strip()


def bud_argv(tag: str, context: Path, base: str, revision: str, pip_conf: Path) -> list[str]:
    """`buildah bud` of the Dockerfile as it is, on the local Python base, trusting this
    machine's certificates in the build (its pip reaches PyPI through the proxy)."""
    return [
        "bud",
        "--quiet",
        "--layers",
        "--network=host",
        "--build-arg",
        f"PYTHON_IMAGE={base}",
        "--build-arg",
        f"REVISION={revision}",
        "--volume",
        "/etc/ssl/certs:/etc/ssl/certs:ro",
        "--volume",
        f"{pip_conf}:/etc/pip.conf:ro",
        "-t",
        tag,
        str(context),
    ]


def image_rebuild(
    ws: Workspace, repository: str, context: Path, base: str, socket: Path, work: Path
) -> str:
    """buildah bud, buildah push to an OCI archive, ctr import into the node's containerd:
    the image of HEAD, by hand. Returns the image built."""
    revision = ws.tool("git", "rev-parse", "HEAD").strip()
    image = f"{repository}:{revision[:12]}"
    pip_conf = work / "pip.conf"
    if not pip_conf.is_file():
        pip_conf.write_text("[global]\ncert = /etc/ssl/certs/ca-certificates.crt\n")
    archive = work / "image.oci.tar"
    archive.unlink(missing_ok=True)
    ws.tool("buildah", *bud_argv(image, context, base, revision, pip_conf))
    ws.tool("buildah", "push", "--quiet", image, f"oci-archive:{archive}:{image}")
    ws.tool("ctr", "--address", str(socket), "-n", "k8s.io", "images", "import", str(archive))
    return image
