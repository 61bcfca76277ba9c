"""docker cannot run here: exact argv of the image steps, through the shell boundary."""

import pytest

from opskit import config, image, shell
from opskit.errors import CommandFailed
from tests import fakes


@pytest.fixture
def cfg(root):
    return config.load(root / "opskit.yaml")


def test_build_step_argv_labels_the_revision(cfg, root):
    ref = image.ImageRef("localhost:5000/gitops-lab/api", "0123456789ab")
    step = image.build_step(cfg, ref, "0123456789abcdef")
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
    step = image.push_step(image.ImageRef("localhost:5000/x", "abc"))
    with (
        fakes.recorder({"docker": (1, "", "connection refused")}),
        pytest.raises(CommandFailed) as info,
    ):
        shell.run_step(step)
    assert info.value.argv == ("docker", "push", "localhost:5000/x:abc")
    assert "invoke cluster.up" in str(info.value)


def test_dry_run_prints_build_and_runs_nothing(cfg, capsys):
    ref = image.ImageRef("r/api", "abc")
    with fakes.recorder({"docker": (0, "", "")}) as calls:
        shell.run_step(image.build_step(cfg, ref, "abcdef"), dry_run=True)
    assert calls == []
    assert capsys.readouterr().err.startswith("[dry-run] docker build --pull=false --label ")


def test_exists_locally_reads_exit_code():
    ref = image.ImageRef("r/api", "abc")
    with fakes.recorder({"docker": (1, "", "No such image")}):
        assert not image.exists_locally(ref)
    with fakes.recorder({"docker": (0, "sha256:1", "")}) as calls:
        assert image.exists_locally(ref)
    assert calls == [("docker", "image", "inspect", "--format", "{{.Id}}", "r/api:abc")]
