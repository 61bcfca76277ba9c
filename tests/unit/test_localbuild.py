"""The chain of images built here for the real node (Debian base → Python base → the
project's images and the stand-ins): the exact commands, and that what is present is never
built again. The builds themselves run for real in tests/e2e_node."""

from __future__ import annotations

from pathlib import Path

from opskit.images import debian, localbuild
from tests.unit.conftest import builds


def test_the_debian_base_is_built_from_packages_once(buildah):
    _store, calls = buildah
    recipe = debian.BaseRecipe()
    said: list[str] = []
    assert debian.ensure_base(recipe, report=said.append) == recipe.image
    (strap, strap_kw), (bud, bud_kw) = [c for c in calls if c[0][1] != "images"]
    assert strap[:6] == [
        "mmdebstrap", "--variant=minbase", "--mode=root", "--format=tar", "--quiet",
        "--include=ca-certificates",
    ]  # fmt: skip
    assert strap[6] == "bookworm" and strap[7].endswith("rootfs.tar")
    assert strap[8:] == list(recipe.sources())
    assert strap_kw["env"] == {"SOURCE_DATE_EPOCH": str(recipe.epoch)}
    assert bud[:6] == ["buildah", "bud", "--quiet", "--layers=false", "-t", recipe.image]
    assert bud_kw["containerfile"] == 'FROM scratch\nADD rootfs.tar /\nCMD ["bash"]\n'
    assert said == [f"building the Debian base {recipe.image} (mmdebstrap bookworm, ~2 min)"]
    calls.clear()
    assert debian.ensure_base(recipe, report=said.append) == recipe.image
    assert builds(calls) == []  # present: nothing runs again


def test_a_changed_recipe_is_a_new_tag():
    assert debian.BaseRecipe().tag != debian.BaseRecipe(include=("ca-certificates", "curl")).tag
    assert debian.BaseRecipe().tag.startswith("bookworm-")
    argv = debian.BaseRecipe(include=()).mmdebstrap_argv(Path("/t/r.tar"))
    assert not any(a.startswith("--include") for a in argv)


def test_a_project_image_builds_its_dockerfile_on_the_python_base(buildah, tmp_path):
    store, calls = buildah
    store.add(debian.BaseRecipe().image)
    image = localbuild.ProjectImage("telemetry", tmp_path / "telemetry")
    tag = localbuild.build_project_image(image, "r/telemetry:abc", "abc", report=print)
    assert tag == "r/telemetry:abc"
    python, project = builds(calls)
    python_image = python[python.index("-t") + 1]
    assert python_image.startswith(f"{localbuild.PYTHON_REPOSITORY}:3.11-")
    assert project[:5] == ["buildah", "bud", "--quiet", "--layers", "--network=host"]
    options = project[5:-3]
    assert options[:4] == [
        "--build-arg", f"PYTHON_IMAGE={python_image}", "--build-arg", "REVISION=abc",
    ]  # fmt: skip
    assert options[4:6] == ["--volume", "/etc/ssl/certs:/etc/ssl/certs:ro"]
    pip_conf = Path(options[7].split(":")[0])
    assert options[7].endswith(":/etc/pip.conf:ro") and not pip_conf.exists()  # removed after
    assert project[-3:] == ["-t", "r/telemetry:abc", str(tmp_path / "telemetry")]
    calls.clear()
    localbuild.build_project_image(image, "r/telemetry:def", "def", report=print)
    assert [argv[argv.index("-t") + 1] for argv in builds(calls)] == ["r/telemetry:def"]


def test_a_standin_is_named_as_one_and_tagged_by_its_context(buildah):
    store, calls = buildah
    store.add(debian.BaseRecipe().image)
    image = localbuild.build_standin("redis", report=print)
    assert image.startswith("localhost/gitops-lab/redis-standin:")
    (bud,) = builds(calls)
    assert bud[5:7] == ["--build-arg", f"BASE={debian.BaseRecipe().image}"]
    assert bud[-1] == str(localbuild.STANDINS / "redis")
    calls.clear()
    assert localbuild.build_standin("redis", report=print) == image
    assert builds(calls) == []
    assert localbuild.standin_image("postgres") != localbuild.standin_image("redis")
