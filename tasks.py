"""GitOps Lab tasks: `invoke --list` shows them; one module per namespace in opskit/tasks."""

from opskit.core import startup

startup.prepare()  # first: bytecode kept for the modules below, the teardown skipped at exit

from invoke import Collection  # noqa: E402

from opskit.tasks import (  # noqa: E402
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
    ingress,
    lint,
    manifests,
    monitoring,
    promote,
    release,
    secrets,
    status,
    telemetry,
    tools,
)

ns = Collection(
    doctor.doctor,
    deploy.deploy,
    deploy.rollback,
    dev.dev,
    release.release,
    promote.promote,
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
    ingress,
    lint,
    app,
    telemetry,
):
    ns.add_collection(Collection.from_module(module))
ns.configure({"run": {"echo": False}})
