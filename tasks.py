"""GitOps Lab tasks: `invoke --list` shows them; one module per namespace in opskit/tasks."""

from invoke import Collection

from opskit import fastexit
from opskit.tasks import (
    app,
    argocd,
    certs,
    clean,
    cluster,
    config,
    deploy,
    dev,
    doctor,
    image,
    lint,
    manifests,
    monitoring,
    release,
    secrets,
    status,
    telemetry,
    tools,
)

fastexit.install()  # the interpreter's teardown skipped once the run is over (see the module)

ns = Collection(
    doctor.doctor,
    deploy.deploy,
    deploy.rollback,
    dev.dev,
    release.release,
    clean.clean,
    status.status,
)
for module in (
    config,
    tools,
    cluster,
    manifests,
    secrets,
    certs,
    image,
    argocd,
    monitoring,
    lint,
    app,
    telemetry,
):
    ns.add_collection(Collection.from_module(module))
ns.configure({"run": {"echo": False}})
