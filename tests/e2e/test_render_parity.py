"""ArgoCD's kustomize (the pinned build its repo-server runs) and kubectl's, which
`invoke deploy` renders with, give the same objects for every overlay: a difference makes
ArgoCD fight what deploy applied, and in an immutable field (a StatefulSet's claim
templates) its server-side diff fails for good. In the e2e session: it builds the gitops
tools."""

from __future__ import annotations

import pytest
import yaml

from opskit.core import config, shell, tools

pytestmark = pytest.mark.tools("kustomize")


@pytest.mark.parametrize("overlay", sorted(config.load().overlays))
def test_argocd_and_deploy_render_the_same_objects(overlay):
    path = str(config.load().overlay(overlay).path)
    theirs = shell.run([tools.which("kustomize"), "build", path]).stdout
    ours = shell.run(["kubectl", "kustomize", path]).stdout
    assert list(yaml.safe_load_all(theirs)) == list(yaml.safe_load_all(ours))
