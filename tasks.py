"""GitOps Lab tasks: `invoke --list` shows them; one module per namespace in opskit/tasks."""

from importlib import import_module

from invoke import Collection

NAMESPACES = (
    "config",
    "tools",
    "cluster",
    "manifests",
    "secrets",
    "certs",
    "image",
    "argocd",
    "monitoring",
    "lint",
    "app",
)
TOP_LEVEL = {
    "doctor": "doctor",
    "deploy": "deploy",
    "rollback": "deploy",
    "release": "release",
    "clean": "clean",
    "status": "status",
}

ns = Collection()
for name in NAMESPACES:
    ns.add_collection(Collection.from_module(import_module(f"opskit.tasks.{name}"), name=name))
for task_name, module in TOP_LEVEL.items():
    ns.add_task(getattr(import_module(f"opskit.tasks.{module}"), task_name))
ns.configure({"run": {"echo": False}})
