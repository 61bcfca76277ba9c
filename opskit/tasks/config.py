"""Inspect the project configuration (opskit.yaml)."""

from invoke import task

from opskit.tasks._common import OVERLAY_HELP, load_config, opskit_task


@task(
    default=True,
    help={
        "overlay": OVERLAY_HELP + "; all overlays when omitted",
        "json": "print JSON instead of YAML (the same keys as opskit.yaml, resolved)",
    },
)
@opskit_task
def show(c, overlay=None, json=False):
    """Print the resolved configuration (of one overlay, or all)."""
    import dataclasses

    import yaml

    cfg = load_config(c)
    if overlay:
        data = _plain(dataclasses.asdict(cfg.overlay(overlay)))
    else:
        data = _plain(dataclasses.asdict(cfg))
    if json:
        import json as encoding

        print(encoding.dumps(data, indent=2))
    else:
        print(yaml.safe_dump(data, sort_keys=False).rstrip())


def _plain(value):
    """asdict output made YAML-safe: paths as strings, tuples as lists."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return str(value) if hasattr(value, "__fspath__") else value
