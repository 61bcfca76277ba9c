"""Inside the redis, mosquitto and telemetry pods (testinfra): each runs as its manifest's
non-root user, on a read-only root, and listens on its port; telemetry is connected."""

import pytest

# workload -> (container, uid from the manifest, port it listens on)
PODS = {
    "redis": ("redis", 999, 6379),
    "mosquitto": ("mosquitto", 10001, 8883),
    "telemetry": ("telemetry", 10001, 8080),
}


@pytest.fixture(params=sorted(PODS))
def service(request, pod_host):
    container, uid, port = PODS[request.param]
    return pod_host(request.param, container=container), uid, port


def listening(host, port: int) -> bool:
    """The kernel's socket table says so (state 0A = LISTEN); the images ship no `ss`."""
    table = host.run("cat /proc/net/tcp /proc/net/tcp6").stdout
    return any(
        fields[1].endswith(f":{port:04X}") and fields[3] == "0A"
        for fields in (line.split() for line in table.splitlines()[1:])
        if len(fields) > 3
    )


def test_runs_as_the_manifest_user(service):
    host, uid, _ = service
    assert host.user().uid == uid


def test_root_file_system_is_read_only(service):
    host, _, _ = service
    assert host.run("touch /opskit-smoke").rc != 0


def test_listens_on_its_port(service):
    host, _, port = service
    assert listening(host, port)


def test_redis_answers_its_probe(pod_host):
    assert pod_host("redis", container="redis").check_output("redis-cli ping") == "PONG"


def test_telemetry_is_ready(pod_host):
    host = pod_host("telemetry", container="telemetry")
    code = (
        "import urllib.request; print(urllib.request.urlopen('http://127.0.0.1:8080/ready').status)"
    )
    assert host.check_output(f'python -c "{code}"') == "200"
