"""Tool registry and preflight, with real executables and fake ones on a temp PATH."""

import pytest

from opskit.core import toolcheck, tools
from opskit.core.errors import ToolMissing
from opskit.toolchain import doctor


def _fake_tool(folder, name, output):
    path = folder / name
    path.write_text(f"#!/bin/sh\necho '{output}'\n")
    path.chmod(0o755)
    return path


@pytest.fixture
def fake_path(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", f"{tmp_path}:/usr/bin:/bin")
    monkeypatch.setattr(tools, "tools_bin", lambda: tmp_path / "no-tools-bin")
    return tmp_path


def test_probe_reads_real_versions():
    git = toolcheck.probe("git")
    assert git.ok and git.path and git.version.count(".") >= 1


def test_probe_of_absent_tool(fake_path):
    assert toolcheck.probe("k3d") == toolcheck.Probe("k3d", None, None, False)


def test_old_version_is_not_ok_and_require_says_so(fake_path):
    _fake_tool(fake_path, "helm", "v3.2.0+gabc")
    assert toolcheck.probe("helm").version == "3.2.0"
    assert not toolcheck.probe("helm").ok
    expected = (
        r"`helm` 3.2.0 is older than 3.14; install it: run `invoke tools.install --only=helm`"
    )
    with pytest.raises(ToolMissing, match=expected):
        toolcheck.require("helm")


def test_require_reports_first_missing_before_probing(fake_path):
    _fake_tool(fake_path, "helm", "v3.16.0")
    with pytest.raises(ToolMissing, match="`minikube` not found; install it: see minikube"):
        toolcheck.require("helm", "minikube")
    toolcheck.require("helm")


def test_version_comparison():
    assert toolcheck._at_least("1.32.4", "1.31")
    assert toolcheck._at_least("3.10.0", "3.9")
    assert not toolcheck._at_least("0.6.1", "0.7")


def test_doctor_table_marks_required_missing(fake_path):
    _fake_tool(fake_path, "git", "git version 2.39.5")
    rows = doctor.check(("git", "k3d"))
    assert doctor.failures(rows) == ["k3d"]
    table = doctor.table(rows).splitlines()
    assert table[0].split() == ["tool", "found", "version", "ok", "hint"]
    git_row = next(line for line in table if line.startswith("git*"))
    assert git_row.split()[1:4] == [str(fake_path / "git"), "2.39.5", "yes"]
    k3d_row = next(line for line in table if line.startswith("k3d*"))
    assert k3d_row.split()[1:4] == ["-", "-", "MISSING"]
    assert "k3d.io" in k3d_row


def test_every_workflow_tool_is_registered():
    for needed in tools.WORKFLOW.values():
        assert set(needed) <= set(tools.TOOLS)


def test_version_probe_is_cached_until_the_executable_changes(fake_path, monkeypatch):
    import os

    from opskit.core import paths

    monkeypatch.setattr(toolcheck, "state_dir", lambda: fake_path / "state")
    helm = _fake_tool(fake_path, "helm", "v3.16.0")
    assert toolcheck.probe("helm").version == "3.16.0"
    stat = helm.stat()
    helm.write_text(helm.read_text().replace("3.16.0", "3.17.0"))  # same size
    os.utime(helm, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    assert toolcheck.probe("helm").version == "3.16.0"  # served from the cache, no process
    _fake_tool(fake_path, "helm", "v3.18.10")  # rebuilt: new size and mtime
    assert toolcheck.probe("helm").version == "3.18.10"
    assert paths.state_dir() != fake_path / "state"  # the real cache was not touched


def test_kubectl_outside_tools_bin_or_skewed_is_a_fallback_warning(monkeypatch, tmp_path):
    from types import SimpleNamespace

    from opskit.core import paths

    monkeypatch.setattr(paths, "root", lambda: tmp_path)
    cfg = SimpleNamespace(kubernetes=SimpleNamespace(version="1.37.2", minor="1.37"))
    built = str(tmp_path / ".tools" / "bin" / "kubectl")

    def rows(path, version):
        return [doctor.Row(toolcheck.Probe("kubectl", path, version, True), True, "")]

    assert doctor.kubectl_warning(cfg, rows(built, "1.37.2")) is None
    assert doctor.kubectl_warning(cfg, rows(built, "1.36.0")) is None  # within ±1
    assert "kubectl 1.35.1 at " in doctor.kubectl_warning(cfg, rows(built, "1.35.1"))
    assert doctor.kubectl_warning(cfg, rows("/usr/bin/kubectl", "1.37.2")).startswith(
        "kubectl 1.37.2 at /usr/bin/kubectl is a fallback"
    )
    assert doctor.kubectl_warning(cfg, rows(None, None)) is None  # missing: the table says so


def test_the_project_kubectl_wins_over_the_one_on_path(tmp_path, monkeypatch):
    from opskit.core import shell

    system, built = tmp_path / "usr-bin", tmp_path / ".tools" / "bin"
    system.mkdir()
    built.mkdir(parents=True)
    _fake_tool(system, "kubectl", "Client Version: v1.32.4")
    _fake_tool(built, "kubectl", "Client Version: v1.37.2")
    monkeypatch.setenv("PATH", f"{system}:/usr/bin:/bin")
    monkeypatch.setattr(tools, "tools_bin", lambda: built)
    assert shell.run(["kubectl", "version", "--client"]).stdout.strip() == (
        "Client Version: v1.37.2"
    )
    (built / "kubectl").unlink()  # not built yet: the one on PATH is the fallback
    assert shell.run(["kubectl", "version", "--client"]).stdout.strip() == (
        "Client Version: v1.32.4"
    )


def test_doctor_says_what_minikube_runs_and_what_does_not_fit(monkeypatch, tmp_path):
    from opskit.core import config

    cfg = config.load()

    def rows(minikube, kubectl):
        return [
            doctor.Row(toolcheck.Probe("minikube", "/usr/bin/minikube", minikube, True), True, ""),
            doctor.Row(toolcheck.Probe("kubectl", "/k/kubectl", kubectl, True), True, ""),
        ]

    note = doctor.minikube_note(cfg, rows("1.38.1", "1.36.0"))
    assert note == (
        "minikube runs Kubernetes 1.35.1, the newest minikube v1.38.1 knows "
        "(cluster.minikube.kubernetes), not 1.37.2: a newer one makes `minikube start` "
        "look it up on GitHub"
    )
    skewed = doctor.minikube_note(cfg, rows("1.37.0", "1.37.2"))
    assert "; minikube 1.37.0 is installed, the suite is checked against v1.38.1" in skewed
    assert skewed.endswith(
        "; kubectl 1.37.2 is outside the ±1 skew of 1.35: for this cluster use "
        "`minikube kubectl --` (kubectl 1.35.1)"
    )
    assert doctor.minikube_note(cfg, [rows("1.38.1", "1.37.2")[1]]) == ""


def test_minikube_older_than_the_checked_release_is_not_ok(fake_path):
    _fake_tool(fake_path, "minikube", "v1.34.0")
    assert not toolcheck.probe("minikube").ok
    _fake_tool(fake_path, "minikube", "v1.38.1")
    assert toolcheck.probe("minikube").ok
