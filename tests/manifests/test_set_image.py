"""`set_image` edits an overlay's kustomization in place: one line changes, nothing else."""

from __future__ import annotations

import dataclasses
import shutil

import pytest
import yaml

from opskit.core.errors import OpsError
from opskit.manifests import kustomize


@pytest.fixture
def overlay(cfg, tmp_path):
    """The dev overlay in a scratch copy of k8s/ (the real files are never edited)."""
    shutil.copytree(cfg.root / "k8s", tmp_path / "k8s")
    return dataclasses.replace(cfg.overlay("dev"), path=tmp_path / "k8s" / "overlays" / "dev")


def pinned(overlay) -> str:
    data = yaml.safe_load((overlay.path / "kustomization.yaml").read_text())
    return next(i["newTag"] for i in data["images"] if i["name"] == "api")


def test_only_the_image_lines_change_and_comments_stay(cfg, overlay):
    """newTag, and newName when a release for another registry (CI's) pinned it last."""
    before = (overlay.path / "kustomization.yaml").read_text()
    old = pinned(overlay)
    old_name = next(i["newName"] for i in yaml.safe_load(before)["images"] if i["name"] == "api")
    change = kustomize.set_image(cfg, overlay, "0123456789ab")
    after = (overlay.path / "kustomization.yaml").read_text()
    assert (change.old, change.new, change.changed) == (old, "0123456789ab", True)
    assert change.images == ("api", "telemetry")  # every project image the overlay pins
    assert after.count('newTag: "0123456789ab"') == 2
    expected = before.replace(f'newTag: "{old}"', 'newTag: "0123456789ab"')
    for entry in yaml.safe_load(before)["images"]:  # each image back to its repository
        if entry["name"] in cfg.images and entry.get("newName"):
            repository = cfg.images[entry["name"]].repository
            expected = expected.replace(f"newName: {entry['newName']}", f"newName: {repository}")
    assert old_name and after == expected
    assert "# `invoke manifests.set-image --overlay=dev --tag=<sha>`" in after


def test_an_all_digit_sha_stays_a_string(cfg, overlay):
    kustomize.set_image(cfg, overlay, "123456789012")
    assert pinned(overlay) == "123456789012"


def test_setting_the_same_tag_twice_changes_nothing(cfg, overlay):
    kustomize.set_image(cfg, overlay, "0123456789ab")
    file = overlay.path / "kustomization.yaml"
    stamp = file.stat().st_mtime_ns
    assert not kustomize.set_image(cfg, overlay, "0123456789ab").changed
    assert file.stat().st_mtime_ns == stamp


def test_dry_run_reports_and_writes_nothing(cfg, overlay):
    before = (overlay.path / "kustomization.yaml").read_text()
    change = kustomize.set_image(cfg, overlay, "0123456789ab", dry_run=True)
    assert change.changed
    assert (overlay.path / "kustomization.yaml").read_text() == before


def test_the_new_tag_is_what_kustomize_renders(cfg, overlay):
    kustomize.set_image(cfg, overlay, "0123456789ab")
    images = {
        c["image"]
        for o in kustomize.render_overlay(cfg, overlay)
        for _, c in kustomize.containers(o)
    }
    assert f"{cfg.app.image}:0123456789ab" in images


@pytest.mark.parametrize("tag", ["latest", "", "a b"])
def test_invalid_tags_are_refused(cfg, overlay, tag):
    with pytest.raises(OpsError, match="invalid image tag"):
        kustomize.set_image(cfg, overlay, tag)


def test_a_kustomization_without_the_app_image_entry_is_an_error(cfg, overlay):
    (overlay.path / "kustomization.yaml").write_text("resources: [../../base]\n")
    with pytest.raises(OpsError, match=r"images: no entry with name: api; add `images:"):
        kustomize.set_image(cfg, overlay, "0123456789ab")
