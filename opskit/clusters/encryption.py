"""Encryption at rest for an embedded kube-apiserver: Secrets reach etcd as ciphertext
(`--encryption-provider-config`), with a key of the cluster's own in its state folder."""

from __future__ import annotations

import base64
import os
import secrets
from pathlib import Path

ENCRYPTION_CONFIG = """apiVersion: apiserver.config.k8s.io/v1
kind: EncryptionConfiguration
resources:
- resources: [secrets]
  providers:
  - secretbox:
      keys:
      - {{name: key1, secret: {key}}}
  - identity: {{}}
"""


def write_config(path: Path) -> None:
    """A fresh random 32-byte secretbox key for Secrets at rest, unless the cluster has one
    (its etcd data needs the same key after a restart). Created 0600, never replaced."""
    if path.exists():
        return
    key = base64.b64encode(secrets.token_bytes(32)).decode()
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(ENCRYPTION_CONFIG.format(key=key))
