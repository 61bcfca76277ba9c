"""bench.scratch: the generated overlays and config of the bench's scratch repository."""

import shutil
import subprocess

import yaml

from bench import scratch

BASE = {
    "apiVersion": "apps/v1",
    "kind": "Deployment",
    "metadata": {"name": "api", "labels": {"app.kubernetes.io/name": "api"}},
    "spec": {
        "selector": {"matchLabels": {"app.kubernetes.io/name": "api"}},
        "template": {"metadata": {"labels": {"app.kubernetes.io/name": "api"}}, "spec": {}},
    },
}


def test_app_copies_are_renamed_and_selected_apart():
    copies = scratch.app_copies(BASE, 4)
    assert [c["metadata"]["name"] for c in copies] == ["api-2", "api-3", "api-4"]
    last = copies[-1]
    assert last["spec"]["selector"]["matchLabels"] == {"app.kubernetes.io/name": "api-4"}
    assert last["spec"]["template"]["metadata"]["labels"]["app.kubernetes.io/name"] == "api-4"
    assert last["metadata"]["labels"]["app.kubernetes.io/managed-by"] == "opskit"
    assert BASE["metadata"]["name"] == "api"  # the original is untouched


def test_one_copy_means_no_extra_deployments():
    assert scratch.app_copies(BASE, 1) == []


def test_configure_points_every_overlay_at_the_bench_cluster():
    data = {
        "cluster": {"provider": "auto", "name": "gitops-lab"},
        "overlays": {"dev": {"contexts": ["kwok-gitops-lab"]}, "prod": {"contexts": []}},
    }
    done = scratch.configure(data, "gitops-lab-bench")
    assert done["cluster"] == {
        "provider": "kwok",
        "name": "gitops-lab-bench",
        "nodes": 12,
        "kwok": {"node": "simulated"},  # no real node runs the generated overlays' databases
    }
    assert {n: o["contexts"] for n, o in done["overlays"].items()} == {
        "dev": ["kwok-gitops-lab-bench"],
        "prod": ["kwok-gitops-lab-bench"],
    }
    assert data["cluster"]["provider"] == "auto"  # input not mutated


def test_configure_the_real_node_cluster_keeps_the_other_kwok_keys():
    data = {
        "cluster": {"name": "gitops-lab", "kwok": {"apiserver_port": 0, "node": "auto"}},
        "overlays": {"dev": {"contexts": []}},
    }
    done = scratch.configure(data, "bench-node", nodes=1, node="real")
    assert done["cluster"]["kwok"] == {"apiserver_port": 0, "node": "real"}
    assert done["cluster"]["nodes"] == 1 and done["overlays"]["dev"]["contexts"] == [
        "kwok-bench-node"
    ]
    assert data["cluster"]["kwok"]["node"] == "auto"  # input not mutated


def test_add_overlay_copies_dev_into_its_own_namespace(tmp_path):
    dev = tmp_path / "k8s/overlays/dev"
    (dev / "secrets").mkdir(parents=True)
    (dev / "kustomization.yaml").write_text(
        "namespace: gitops-lab-dev\nresources:\n  - ../../base\n"
    )
    (dev / "secrets/kustomization.yaml").write_text("namespace: gitops-lab-dev\n")
    (dev / "secrets/api-secrets.sops.yaml").write_text("encrypted: for dev\n")
    (tmp_path / "k8s/base").mkdir(parents=True)
    (tmp_path / "k8s/base/api-deployment.yaml").write_text(yaml.safe_dump(BASE))
    data = {"overlays": {"dev": {"path": "k8s/overlays/dev", "namespace": "gitops-lab-dev"}}}

    scratch.add_overlay(tmp_path, data, "bench-g4", "gitops-lab-bench-g4", app_count=4)

    made = tmp_path / "k8s/overlays/bench-g4"
    kustomization = yaml.safe_load((made / "kustomization.yaml").read_text())
    assert kustomization == {
        "namespace": "gitops-lab-bench-g4",
        "resources": ["../../base", "api-copies.yaml"],
    }
    assert yaml.safe_load((made / "secrets/kustomization.yaml").read_text()) == {
        "namespace": "gitops-lab-bench-g4"
    }
    assert not (made / "secrets/api-secrets.sops.yaml").exists()  # secrets.init makes them
    assert len(list(yaml.safe_load_all((made / "api-copies.yaml").read_text()))) == 3
    assert data["overlays"]["bench-g4"] == {
        "path": "k8s/overlays/bench-g4",
        "namespace": "gitops-lab-bench-g4",
    }


def test_volume_pool_is_static_volumes_without_a_storage_class():
    volumes = list(yaml.safe_load_all(scratch.volume_pool(3)))
    assert [v["metadata"]["name"] for v in volumes] == ["bench-pv-0", "bench-pv-1", "bench-pv-2"]
    assert all(v["kind"] == "PersistentVolume" for v in volumes)
    assert all("storageClassName" not in v["spec"] for v in volumes)
    assert volumes[0]["spec"]["capacity"] == {"storage": "1Gi"}


def test_the_shared_tools_link_of_a_copy_is_not_committed(tmp_path, root):
    """A copy's `.tools` is a symlink to the checkout's: git must ignore it like the folder
    (else every scratch commit carries it, and ArgoCD refuses the out-of-bounds link)."""
    source, target = tmp_path / "source", tmp_path / "target"
    (source / ".tools" / "bin").mkdir(parents=True)
    (source / "opskit.yaml").write_text("project: {}\n")
    shutil.copy(root / ".gitignore", source / ".gitignore")
    subprocess.run(["git", "-C", str(source), "init", "-q"], check=True)
    scratch.copy_checkout(source, target)
    assert (target / ".tools").is_symlink()
    scratch.commit_all(target, "copy")
    files = subprocess.run(
        ["git", "-C", str(target), "ls-files"], capture_output=True, text=True, check=True
    ).stdout.split()
    assert ".tools" not in files and "opskit.yaml" in files


def test_the_copy_is_byte_compiled_even_where_bytecode_is_not_written(tmp_path, monkeypatch):
    """The bench times `invoke` runs of the copy: with PYTHONDONTWRITEBYTECODE set each run
    would compile opskit again, a cost no installed or once-run checkout pays."""
    monkeypatch.setenv("PYTHONDONTWRITEBYTECODE", "1")
    (tmp_path / "opskit").mkdir()
    (tmp_path / "opskit" / "__init__.py").write_text("")
    (tmp_path / "tasks.py").write_text("X = 1\n")
    scratch.compile_bytecode(tmp_path)
    assert list((tmp_path / "opskit" / "__pycache__").glob("__init__.*.pyc"))
    assert list((tmp_path / "__pycache__").glob("tasks.*.pyc"))
