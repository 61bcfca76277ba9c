"""docker cannot run here: exact argv of the image steps, through the shell boundary."""

import re

import pytest

from opskit.core import config, shell
from opskit.core.errors import CommandFailed, OpsError
from opskit.images import images
from tests import fakes


@pytest.fixture
def cfg(root):
    return config.load(root / "opskit.yaml")


def test_build_step_argv_labels_the_revision(cfg, root):
    ref = images.ImageRef("localhost:5000/gitops-lab/api", "0123456789ab")
    step = images.build_step(cfg, ref, "0123456789abcdef")
    with fakes.recorder({"docker": (0, "", "")}) as calls:
        shell.run_step(step)
    assert calls == [
        (
            "docker",
            "build",
            "--pull=false",
            "--label",
            "org.opencontainers.image.revision=0123456789abcdef",
            "--build-arg",
            "REVISION=0123456789abcdef",
            "--tag",
            "localhost:5000/gitops-lab/api:0123456789ab",
            str(root / "app"),
        )
    ]


def test_push_failure_carries_hint():
    step = images.push_step(images.ImageRef("localhost:5000/x", "abc"))
    with (
        fakes.recorder({"docker": (1, "", "connection refused")}),
        pytest.raises(CommandFailed) as info,
    ):
        shell.run_step(step)
    assert info.value.argv == ("docker", "push", "localhost:5000/x:abc")
    assert "invoke cluster.up" in str(info.value)


def test_dry_run_prints_build_and_runs_nothing(cfg, capsys):
    ref = images.ImageRef("r/api", "abc")
    with fakes.recorder({"docker": (0, "", "")}) as calls:
        shell.run_step(images.build_step(cfg, ref, "abcdef"), dry_run=True)
    assert calls == []
    assert capsys.readouterr().err.startswith("[dry-run] docker build --pull=false --label ")


def test_exists_locally_reads_exit_code():
    ref = images.ImageRef("r/api", "abc")
    with fakes.recorder({"docker": (1, "", "No such image")}):
        assert not images.exists_locally(ref)
    with fakes.recorder({"docker": (0, "sha256:1", "")}) as calls:
        assert images.exists_locally(ref)
    assert calls == [("docker", "image", "inspect", "--format", "{{.Id}}", "r/api:abc")]


def test_refs_are_every_project_image_the_app_first(cfg):
    assert [str(r) for r in images.refs(cfg, "abc")] == [
        "localhost:5000/gitops-lab/api:abc",
        "localhost:5000/gitops-lab/telemetry:abc",
    ]
    assert [str(r) for r in images.refs(cfg, "abc", "telemetry")] == [
        "localhost:5000/gitops-lab/telemetry:abc"
    ]
    with pytest.raises(OpsError, match="unknown image 'web'") as info:
        images.refs(cfg, "abc", "web")
    assert "api, telemetry" in info.value.hint


def test_each_image_builds_from_its_own_context(cfg, root):
    ref = images.ImageRef("localhost:5000/gitops-lab/telemetry", "abc")
    assert images.build_step(cfg, ref, "abcdef").argv[-1] == str(root / "services" / "telemetry")


@pytest.mark.parametrize("name", ["api", "telemetry"])
def test_every_dockerfile_runs_non_root_pinned_and_labelled(cfg, root, name):
    """One lint for every image: numeric non-root USER, pinned bases, the revision label."""
    text = (root / cfg.images[name].context / "Dockerfile").read_text()
    users = re.findall(r"^USER\s+(\S+)", text, re.M)
    assert users, "no USER: the image would run as root"
    uid = users[-1].split(":")[0]
    assert uid.isdigit() and int(uid) != 0, f"USER {users[-1]}: use a numeric non-root uid"
    defaults = dict(re.findall(r"^ARG\s+(\w+)=(\S+)", text, re.M))
    for base in re.findall(r"^FROM\s+(\S+)", text, re.M):
        resolved = re.sub(r"\$\{(\w+)\}", lambda m: defaults.get(m.group(1), ""), base)
        if resolved in re.findall(r"\bAS\s+(\w+)", text):
            continue
        assert re.search(r":[\w.-]+$", resolved) and not resolved.endswith(":latest"), base
    assert re.search(r"^ARG REVISION", text, re.M)
    assert "org.opencontainers.image.revision=$REVISION" in text
