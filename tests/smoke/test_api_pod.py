"""Inside the api pod (testinfra): the app runs as non-root and listens on its port."""

import pytest


@pytest.fixture
def host(api_runs, pod_host):
    return pod_host("api", container="api")


def test_runs_as_non_root(host):
    assert host.user().uid != 0


def test_app_process_is_not_root(host):
    if host.exists("ps"):
        beam = host.process.filter(comm="beam.smp")
        assert beam, "no beam.smp process"
        assert all(p.user != "root" and p.euid != 0 for p in beam)
    else:  # slim release images ship no ps: PID 1 is the release's launcher
        status = host.file("/proc/1/status").content_string
        uids = next(line.split()[1:] for line in status.splitlines() if line.startswith("Uid:"))
        assert "0" not in uids


def test_listens_on_its_port(host, cfg):
    if host.exists("ss") or host.exists("netstat"):
        assert (
            host.socket(f"tcp://0.0.0.0:{cfg.app.port}").is_listening
            or host.socket(f"tcp://:::{cfg.app.port}").is_listening
        )
    else:  # no socket tool in the image: the kernel's table says the same (state 0A = LISTEN)
        table = host.run("cat /proc/net/tcp /proc/net/tcp6").stdout
        port = f":{cfg.app.port:04X}"
        assert any(
            fields[1].endswith(port) and fields[3] == "0A"
            for fields in (line.split() for line in table.splitlines()[1:])
            if len(fields) > 3
        )
