"""One `invoke dev` iteration without a cluster: kustomize, sops, git and the validators run
for real; the cluster-facing kubectl calls, docker and k3d are answered at the shell boundary
(tests.unit.apiserver's ApiServer), and the test asserts their argv."""

from __future__ import annotations

import dataclasses
import time

import pytest
import yaml

from opskit import clusters
from opskit.deploy import devloop
from tests import fakes
from tests.unit.apiserver import ApiServer
from tests.unit.conftest import needs_sops
from tests.unit.test_deploy_plan import project  # noqa: F401 (the fixture)

pytestmark = needs_sops
PATCH = "k8s/overlays/dev/api-config.yaml"


def _loop(cfg, lines: list[str], problems: list[str], test: bool = False) -> devloop.Loop:
    target = clusters.connect(cfg, "dev")
    return devloop.Loop(
        cfg, cfg.overlay("dev"), target, 5, test, False, lines.append, problems.append
    )


def _verbs(calls) -> list[str]:
    return [c[5] for c in calls if "--kubeconfig" in c]


def test_an_app_change_on_a_container_cluster_builds_and_loads_the_image(project):  # noqa: F811
    cfg = dataclasses.replace(project, cluster=dataclasses.replace(project.cluster, provider="k3d"))
    (cfg.root / "app").mkdir()
    (cfg.root / "app" / "NOTES.md").write_text("a change under app/\n")
    docker = {"inspect": (1, "", "No such image"), "build": (0, "", "")}
    fake = {
        "kubectl": ApiServer(),
        "docker": lambda argv, _stdin: docker[argv[1] if argv[1] == "build" else argv[2]],
        "k3d": (0, "", ""),
    }
    lines: list[str] = []
    with fakes.recorder(fake) as calls:
        assert _loop(cfg, lines, []).iterate(["app/NOTES.md"], time.time())
    build = next(c for c in calls if c[:2] == ("docker", "build"))
    ref = build[build.index("--tag") + 1]
    assert ref.startswith(f"{cfg.app.image}:") and "-dirty-" in ref
    assert ("k3d", "image", "import", ref, "--cluster", cfg.cluster.name) in calls
    assert calls.index(build) < calls.index(
        ("k3d", "image", "import", ref, "--cluster", "gitops-lab")
    )
    assert lines[-1].startswith(  # an empty cluster: everything is new
        "dev #0: app/NOTES.md -> applied: 37 created (ConfigMap/api-config, "
        "ConfigMap/mosquitto-config, CronJob/device-simulator, Deployment/api +33 more); "
        "rolled out deployment/api, deployment/redis, deployment/telemetry, "
        "statefulset/mosquitto, statefulset/postgres; image rebuilt and loaded (app/ changed); "
        "ready "
    )


def test_an_invalid_field_is_reported_in_the_validate_format_and_nothing_is_applied(project):  # noqa: F811
    patch = project.root / PATCH
    data = yaml.safe_load(patch.read_text())
    data["bogus"] = "field"
    patch.write_text(yaml.safe_dump(data))
    lines: list[str] = []
    problems: list[str] = []
    with fakes.recorder({"kubectl": ApiServer()}) as calls:
        assert not _loop(project, lines, problems).iterate([PATCH], time.time())
    assert len(problems) == 1 and problems[0].startswith("dev/ConfigMap/api-config: ")
    assert "bogus" in problems[0]
    assert lines == [
        f"dev #0: {PATCH} -> FAILED: dev: 1 validation problem(s), nothing applied; "
        "fix them and run again"
    ]
    assert "apply" not in _verbs(calls)


def test_failing_fast_tests_stop_the_iteration_before_the_deploy(project):  # noqa: F811
    lines: list[str] = []
    problems: list[str] = []
    with fakes.recorder({"kubectl": ApiServer()}) as calls:
        loop = _loop(project, lines, problems, test=True)
        assert not loop.iterate([PATCH], time.time())
    assert lines == [
        f"dev #0: {PATCH} -> FAILED: tests failed: `pytest tests/manifests -q -x -p "
        "no:cacheprovider`, nothing applied; fix them and save again"
    ]
    assert any("tests/manifests" in line for line in problems)  # pytest's own words
    assert _verbs(calls) == []  # not even a read of the cluster


def test_secrets_are_decrypted_again_only_when_a_file_or_the_key_changes(project, monkeypatch):  # noqa: F811
    from opskit.core import shell
    from opskit.secrets import sops

    dev = project.overlay("dev")
    first = sops.decrypted_secrets(project, dev)
    value = next(iter(yaml.safe_load(first[0])["stringData"].values()))
    shell._display.secrets.clear()

    def no_sops(*_args, **_kwargs):
        raise AssertionError("sops ran again")

    monkeypatch.setattr(sops, "run_sops", no_sops)
    assert sops.decrypted_secrets(project, dev) == first  # the loop's next iteration
    assert shell.redact(f"x {value} y") == "x *** y"  # still masked in every output
    changed = sops.secret_files(dev)[0]
    changed.write_text(changed.read_text() + "# edited\n")
    with pytest.raises(AssertionError, match="sops ran again"):
        sops.decrypted_secrets(project, dev)


@pytest.mark.tools("openssl", "mkcert")
def test_the_certificate_is_checked_again_only_when_its_files_change(project):  # noqa: F811
    from opskit.secrets import certs

    dev = project.overlay("dev")
    certs.tls_secret(project, dev)  # issued if it was missing
    first = certs.tls_secret(project, dev)  # checked: fresh
    real = {"openssl": fakes.real, "mkcert": fakes.real}  # run for real, and recorded
    with fakes.recorder(real) as calls:
        assert certs.tls_secret(project, dev) == first  # the loop's next iteration
    assert calls == []  # no openssl: nothing changed
    cert, _key = certs.cert_paths(project, dev)
    cert.write_bytes(cert.read_bytes())  # rewritten: a new mtime
    with fakes.recorder(real) as calls:
        assert certs.tls_secret(project, dev) == first  # checked again, still valid
    assert [argv[:2] for argv in calls] == [
        ("openssl", "verify"),
        ("openssl", "x509"),
        ("openssl", "x509"),
    ], calls  # signed by the CA, not expiring, its hosts; valid: not issued again
