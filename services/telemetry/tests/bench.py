"""Throughput and latency of the telemetry pipeline on loopback, beside a bare subscriber.

For 10, 100 and 500 simulated devices (about 10,000 QoS 1 readings each run): readings/s the
service stores and p50/p99 publish->stored latency (from the database), and the delivery rate
of `mosquitto_sub` subscribed to the same topic in the same run; both rates are counted from
the first publish. Usage (from services/telemetry): python tests/bench.py [--out FILE]
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

from infra import HOST, Mosquitto, Postgres, make_pki, workdir
from service import Service, simulate

RUNS = ((10, 1000), (100, 100), (500, 20))  # (devices, readings per device)
STATS = """
SELECT count(*),
       extract(epoch FROM min(ts)),
       extract(epoch FROM max(stored_at)),
       percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM stored_at - ts)),
       percentile_cont(0.99) WITHIN GROUP (ORDER BY extract(epoch FROM stored_at - ts))
FROM telemetry.readings
"""


def bare_subscriber(broker: Mosquitto, total: int, name: str, out: Path) -> subprocess.Popen:
    """mosquitto_sub on the service's topic, exiting after `total` messages; prints times."""
    argv = ["mosquitto_sub", "-h", HOST, "-p", str(broker.port), "--cafile", str(broker.pki.ca),
            "-u", "telemetry", "-P", broker.users["telemetry"], "-i", f"bare-sub-{name}",
            "-t", "devices/+/readings", "-q", "1", "-C", str(total), "-W", "120",
            "-F", "%U %p"]  # fmt: skip
    with out.open("w") as sink:  # a file, not a pipe: a full pipe would slow it down
        return subprocess.Popen(argv, stdout=sink, stderr=subprocess.DEVNULL)


def one_run(broker, postgres, credentials, folder: Path, devices: int, readings: int) -> dict:
    total = devices * readings
    database = f"bench_{devices}"
    postgres.create_database(database)
    svc = Service(broker, postgres.dsn(database), f"bench-{devices}", folder).start()
    svc.wait_subscribed()
    sub_out = folder / f"sub-{devices}.txt"
    sub = bare_subscriber(broker, total, str(devices), sub_out)
    time.sleep(1.0)  # let it subscribe
    report = simulate(broker, credentials, f"--devices={devices}", f"--readings={readings}",
                      "--rate=1000", "--seconds=90")  # fmt: skip
    if report["published"] == total:
        svc.wait_stored(total)
    sub.wait(timeout=120)
    svc.stop()
    count, first, last, p50, p99 = postgres.query(database, STATS)[0]
    received, bare_delays = [], []
    for line in sub_out.read_text().splitlines():
        at, payload = line.split(" ", 1)
        published = datetime.fromisoformat(json.loads(payload)["ts"]).timestamp()
        received.append(float(at))
        bare_delays.append(float(at) - published)
    bare_delays.sort()
    stored_rate = int(count) / (float(last) - float(first))
    bare_rate = len(received) / (max(received) - float(first))
    return {
        "devices": devices,
        "readings": total,
        "published": report["published"],
        "stored": int(count),
        "stored_per_s": round(stored_rate),
        "p50_ms": round(float(p50) * 1000, 1),
        "p99_ms": round(float(p99) * 1000, 1),
        "bare_subscriber_per_s": round(bare_rate),
        "bare_p50_ms": round(bare_delays[len(bare_delays) // 2] * 1000, 1),
        "bare_p99_ms": round(bare_delays[int(len(bare_delays) * 0.99)] * 1000, 1),
        "ratio": round(stored_rate / bare_rate, 2),
    }


def table(rows: list[dict]) -> str:
    head = (
        "| devices | stored | stored/s | p50 / p99 ms | mosquitto_sub/s | sub p50 / p99 ms "
        "| ratio |\n|---:|---:|---:|---:|---:|---:|---:|\n"
    )
    return head + "".join(
        f"| {r['devices']} | {r['stored']}/{r['readings']} | {r['stored_per_s']} "
        f"| {r['p50_ms']} / {r['p99_ms']} | {r['bare_subscriber_per_s']} "
        f"| {r['bare_p50_ms']} / {r['bare_p99_ms']} | {r['ratio']} |\n"
        for r in rows
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", type=Path, help="also write the table (Markdown) here")
    args = parser.parse_args()
    users = {"telemetry": "bench-telemetry"} | {f"device-{i:03d}": f"pw-{i}" for i in range(500)}
    scratch = Path(tempfile.mkdtemp(prefix="telemetry-bench-"))
    credentials = scratch / "devices.txt"
    credentials.write_text("".join(f"{u}:{p}\n" for u, p in users.items() if u != "telemetry"))
    mqtt_dir, pg_dir = workdir("bench-mqtt-"), workdir("bench-pg-")
    broker, postgres = Mosquitto(mqtt_dir, make_pki(mqtt_dir), users), Postgres(pg_dir)
    broker.start()
    postgres.start()
    rows = []
    try:
        for devices, readings in RUNS:
            print(f"bench: {devices} devices x {readings} readings", file=sys.stderr, flush=True)
            rows.append(one_run(broker, postgres, credentials, scratch, devices, readings))
            print(json.dumps(rows[-1]), file=sys.stderr, flush=True)
    finally:
        broker.stop()
        postgres.stop()
        for folder in (scratch, mqtt_dir, pg_dir):
            shutil.rmtree(folder, ignore_errors=True)
    text = table(rows)
    print(text)
    if args.out:
        args.out.write_text("# Telemetry throughput (loopback, this machine)\n\n" + text)
    return 0 if all(r["stored"] == r["readings"] for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
