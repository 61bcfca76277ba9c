"""Simulated MQTT devices against a broker (the telemetry service's `simulate`)."""

from invoke import task

from opskit.tasks._common import DRY_RUN_HELP, load_config, opskit_task, say


@task(
    help={
        "devices": "number of simulated devices, each its own client id and password",
        "seconds": "stop after this long even if readings remain",
        "readings": "readings per device",
        "rate": "readings per second per device",
        "credentials": "file of `device:password` lines, one per device",
        "host": "broker host (MQTT over TLS)",
        "port": "broker port",
        "ca_file": "CA of the broker's certificate (default: the project CA, .certs/ca)",
        "dry_run": DRY_RUN_HELP,
    }
)
@opskit_task
def simulate(
    c,
    credentials="",
    devices="10",
    seconds="30",
    readings="20",
    rate="5",
    host="127.0.0.1",
    port="8883",
    ca_file="",
    dry_run=False,
):
    """Publish readings from N simulated devices through a broker; print what was published."""
    from pathlib import Path

    from opskit.core import args, shell
    from opskit.core.errors import OpsError
    from opskit.secrets import certs
    from opskit.services import telemetry

    devices, readings = (
        args.positive_int(devices, "--devices"),
        args.positive_int(readings, "--readings"),
    )
    seconds, port = args.seconds(seconds, "--seconds"), args.port(port, "--port")
    rate = args.decimal(rate, "--rate", args.Bounds(0, 10_000, above=True))
    if not credentials:
        raise OpsError("--credentials: missing", "name a file of `device:password` lines")
    cfg = load_config(c)
    ca = Path(ca_file) if ca_file else certs.ca_file(cfg)
    for what, path in (("--credentials", Path(credentials)), ("the CA", ca)):
        if not path.is_file():
            raise OpsError(f"{what}: {path} not found", "see `invoke --help telemetry.simulate`")
    python = telemetry.service_python(cfg, dry_run)
    argv = telemetry.simulate_argv(python, Path(credentials), devices, seconds, readings, rate)
    env = {"MQTT_HOST": host, "MQTT_PORT": str(port), "MQTT_CA_FILE": str(ca)}
    result = shell.run(
        argv,
        env=env,
        mutates=True,
        timeout=seconds + 60,
        check=False,
        what=f"simulate {devices} devices",
        dry_run=dry_run,
    )
    if dry_run:
        return
    if result.stdout.strip():
        print(result.stdout.strip())
    if result.returncode != 0:
        raise OpsError(
            f"the simulator published fewer readings than asked ({result.stderr.strip()[-300:]})",
            "check the broker address, the CA and the credentials",
        )
    say(f"simulated {devices} devices against {host}:{port}")
