"""cluster.down finds a dead cluster's volume folders in etcd's files."""

from pathlib import Path

from opskit.clusters import volumes

UUID = "3f6c1a2e-8b7d-4e5f-9a0b-1c2d3e4f5a6b"


def test_volume_folders_are_read_from_etcd_files(tmp_path):
    wal = tmp_path / "etcd" / "member" / "wal" / "0000.wal"
    wal.parent.mkdir(parents=True)
    record = f"\x12\x05/registry/persistentvolumes/pvc-1\x1a/tmp/hostpath_pv/{UUID}\x22".encode()
    wal.write_bytes(b"\x00\xff" + record + record + b"/tmp/hostpath_pv/../../etc\x00")
    assert volumes.from_etcd(tmp_path / "etcd") == [Path(f"/tmp/hostpath_pv/{UUID}")]
    assert volumes.from_etcd(tmp_path / "absent") == []
