"""toolbuild: pins, exact go build argv, the stamp, PATH reuse, and a real tiny Go build."""

import json
import re
from pathlib import Path

import pytest

from opskit.core import config, paths, shell, tools
from opskit.core.errors import CommandFailed, OpsError
from opskit.toolchain import build
from tests import fakes

ROOT = Path(__file__).resolve().parents[2]
HELLO_MAIN = """package main

import "fmt"

var version = "dev"

func main() { fmt.Println("hello version " + version) }
"""


def _hello_ldflags(version):
    return (f"-X main.version={version}",)


HELLO = build.GoTool(
    "hello", "hello", "hello", "example.com/hello", "example.com/hello", ldflags=_hello_ldflags
)


@pytest.fixture
def lab(tmp_path, monkeypatch):
    """A project root with one tiny Go tool module (tools/hello), registered as a tool."""
    module = tmp_path / "tools" / "hello"
    module.mkdir(parents=True)
    (module / "go.mod").write_text("module example.com/hello\n\ngo 1.22\n")
    (module / "main.go").write_text(HELLO_MAIN)
    monkeypatch.setattr(paths, "root", lambda: tmp_path)
    monkeypatch.setattr(build, "GO_TOOLS", (HELLO,))
    monkeypatch.setitem(
        tools.TOOLS,
        "hello",
        tools.Tool("hello", ("--version",), "1.0", tools.BUILT, r"hello version v?(\d+\.\d+\.\d+)"),
    )
    monkeypatch.setattr(build, "pinned_version", lambda tool, pins, d: pins[tool.pin])
    monkeypatch.setenv("PATH", "/usr/local/go/bin:/usr/bin:/bin")
    return tmp_path


def _no_process(*args, **kwargs):
    raise AssertionError("a process was started")


def test_kube_binaries_get_version_ldflags_on_both_version_packages():
    apiserver = build.select(("kube-apiserver",))[0]
    argv = apiserver.argv("v1.37.2", Path("/out/kube-apiserver"))
    flags = argv[argv.index("-ldflags") + 1].split()
    assert argv[:5] == ["go", "build", "-trimpath", "-tags", "selinux,notest"]
    assert argv[-3:] == ["-o", "/out/kube-apiserver", "k8s.io/kubernetes/cmd/kube-apiserver"]
    for pkg in ("k8s.io/component-base/version", "k8s.io/client-go/pkg/version"):
        for setting in ("gitVersion=v1.37.2", "gitMajor=1", "gitMinor=37"):
            assert f"{pkg}.{setting}" in flags


def test_kwok_binaries_carry_their_version():
    kwokctl = build.select(("kwokctl",))[0]
    argv = kwokctl.argv("v0.7.0", Path("o"))
    assert "-X sigs.k8s.io/kwok/pkg/consts.Version=v0.7.0" in argv[argv.index("-ldflags") + 1]


def test_every_go_tool_is_in_the_registry_so_doctor_knows_it():
    assert {tool.name for tool in build.GO_TOOLS} <= set(tools.TOOLS)


def test_repo_pins_agree_with_the_go_modules():
    pins = config.load(ROOT / "opskit.yaml").tool_pins()
    for tool in build.GO_TOOLS:
        assert build.pinned_version(tool, pins, ROOT / "tools") == pins[tool.pin]


def test_pin_that_disagrees_with_go_mod_is_one_clear_error():
    etcd = build.select(("etcd",))[0]
    with pytest.raises(
        OpsError,
        match=r"opskit.yaml pins etcd v3.4.0 but tools/etcd/go.mod "
        r"requires go.etcd.io/etcd/server/v3 v3\.7\.\d+",
    ):
        build.pinned_version(etcd, {"etcd": "v3.4.0"}, ROOT / "tools")
    with pytest.raises(OpsError, match=r"tools.etcd: missing key"):
        build.pinned_version(etcd, {}, ROOT / "tools")


def test_unknown_tool_names_the_known_ones():
    with pytest.raises(OpsError, match=r"unknown tool 'kubelett'; use one of: kube-apiserver, "):
        build.select(("kubelett",))


@pytest.mark.tools("go")
def test_build_then_second_run_starts_no_process(lab, monkeypatch):
    lines = []
    first = build.install({"hello": "v1.2.3"}, report=lines.append)
    assert [(o.name, o.action) for o in first] == [("hello", "built")]
    assert lines[0] == "hello v1.2.3: building from tools/hello ..."
    assert re.fullmatch(r"hello v1.2.3: built in [\d.]+s", lines[-1])
    binary = lab / ".tools" / "bin" / "hello"
    assert build.reported_version("hello", str(binary)) == "1.2.3"
    stamp = json.loads((lab / ".tools" / "stamp.json").read_text())["tools"]["hello"]
    assert stamp["version"] == "v1.2.3" and stamp["source"] == "built"
    assert not list((lab / ".tools" / "bin").glob(".*partial"))

    monkeypatch.setattr(shell, "_run_chain", _no_process)
    again = build.install({"hello": "v1.2.3"}, report=lines.append)
    assert [(o.name, o.action) for o in again] == [("hello", "up to date")]


@pytest.mark.tools("go")
def test_new_pin_rebuilds_and_wrong_version_is_refused(lab, monkeypatch):
    build.install({"hello": "v1.2.3"}, report=lambda _m: None)
    broken = build.GoTool(
        "hello",
        "hello",
        "hello",
        "example.com/hello",
        "example.com/hello",
        ldflags=lambda v: ("-X main.version=v9.9.9",),
    )
    monkeypatch.setattr(build, "GO_TOOLS", (broken,))
    with pytest.raises(OpsError, match=r"built hello reports version 9\.9\.9, expected v1\.2\.4"):
        build.install({"hello": "v1.2.4"}, report=lambda _m: None)
    assert not (lab / ".tools" / "bin" / "hello").exists()


def test_suitable_tool_on_path_is_linked_not_built(lab, monkeypatch):
    bindir = lab / "elsewhere"
    bindir.mkdir()
    (bindir / "hello").write_text("#!/bin/sh\necho 'hello version v1.2.3'\n")
    (bindir / "hello").chmod(0o755)
    monkeypatch.setenv("PATH", f"{bindir}:/usr/bin:/bin")
    with fakes.recorder({"go": (1, "", "must not build")}) as calls:
        outcomes = build.install({"hello": "v1.2.3"}, report=lambda _m: None)
    assert calls == []
    assert outcomes[0].action == "linked"
    assert (lab / ".tools" / "bin" / "hello").resolve() == (bindir / "hello").resolve()


def test_tool_on_path_at_another_version_is_built(lab, monkeypatch):
    bindir = lab / "elsewhere"
    bindir.mkdir()
    (bindir / "hello").write_text("#!/bin/sh\necho 'hello version v1.0.0'\n")
    (bindir / "hello").chmod(0o755)
    monkeypatch.setenv("PATH", f"{bindir}:/usr/bin:/bin")
    with (
        fakes.recorder({"go": (1, "", "go: no network")}) as calls,
        pytest.raises(CommandFailed, match="`go` exited with code 1"),
    ):
        build.install({"hello": "v1.2.3"}, report=lambda _m: None)
    assert calls[0][:3] == ("go", "build", "-trimpath")
    assert not (lab / ".tools" / "bin" / "hello").exists()
    assert not (lab / ".tools" / "stamp.json").exists()


def test_dry_run_prints_the_build_and_builds_nothing(lab, capsys):
    outcomes = build.install({"hello": "v1.2.3"}, report=lambda _m: None, dry_run=True)
    assert outcomes[0].action == "would build"
    err = capsys.readouterr().err
    out = lab / ".tools" / "bin" / "hello"
    assert (
        f"[dry-run] go build -trimpath -ldflags '-s -w -X main.version=v1.2.3' -o {out} "
        "example.com/hello"
    ) in err
    assert not (lab / ".tools" / "stamp.json").exists()


def test_gitops_tools_are_opt_in_and_built_with_the_newer_go_toolchain():
    default = {tool.name for tool in build.select(())}
    assert "argocd" not in default and "kustomize" not in default and "sops" in default
    argocd, kustomize, ksops = build.select(("gitops",))
    assert (argocd.name, kustomize.name, ksops.name) == ("argocd", "kustomize", "ksops")
    assert "ksops" not in default and ksops.env()["GOTOOLCHAIN"] == "local"
    assert argocd.env() == {"GOTOOLCHAIN": "go1.27.3", "CGO_ENABLED": "0"}
    assert build.select(("sops",))[0].env()["GOTOOLCHAIN"] == "local"
    argv = argocd.argv("v3.6.1", Path("o"))
    flags = argv[argv.index("-ldflags") + 1]
    assert "-X github.com/argoproj/argo-cd/v3/common.version=3.6.1" in flags
    assert argv[-1] == "github.com/argoproj/argo-cd/v3/cmd"
    assert [t.name for t in build.select(("argocd", "gitops"))] == ["argocd", "kustomize", "ksops"]


def test_argocd_pin_and_the_release_installed_agree():
    cfg = config.load(ROOT / "opskit.yaml")
    assert cfg.argocd.version == cfg.tools["argocd"]
