"""What every task shares: error handling, dry-run/echo wiring, the loaded config."""

from __future__ import annotations

import functools
import sys
import traceback
from collections.abc import Callable
from typing import Any

from invoke import Exit

PREFIX = "opskit"
OVERLAY_HELP = "overlay name from opskit.yaml (e.g. dev, prod)"
DRY_RUN_HELP = "print the exact commands that would change something, and change nothing"


def opskit_task(body: Callable[..., Any]) -> Callable[..., Any]:
    """Run a task body with the suite's conventions.

    Expected failures (OpsError) print one line and exit 1; Ctrl-C exits 130; a bug prints
    its traceback and exits 3. invoke's --dry and --echo reach the command layer.
    """

    @functools.wraps(body)
    def wrapper(c, *args: Any, **kwargs: Any) -> Any:
        from opskit import shell
        from opskit.errors import OpsError

        dry = bool(kwargs.get("dry_run")) or bool(c.config.run.dry)
        if "dry_run" in kwargs:
            kwargs["dry_run"] = dry
        try:
            with shell.settings(echo=bool(c.config.run.echo) or None, dry_run=dry):
                return body(c, *args, **kwargs)
        except OpsError as exc:
            print(f"{PREFIX}: error: {exc}", file=sys.stderr)
            raise Exit(code=1) from None
        except KeyboardInterrupt:
            print(f"{PREFIX}: interrupted", file=sys.stderr)
            raise Exit(code=130) from None
        except Exit:
            raise
        except Exception:
            traceback.print_exc()
            print(f"{PREFIX}: internal error (a bug): please report it", file=sys.stderr)
            raise Exit(code=3) from None

    return wrapper


def load_config(c) -> Any:
    """The project config, loaded once per invoke run."""
    from opskit import config

    cached = getattr(c.config, "_opskit_config", None)
    if cached is None:
        cached = config.load()
        c.config._opskit_config = cached
    return cached


def cluster_kube(cfg) -> Any:
    """kubectl bound to the configured cluster (its own kubeconfig and context)."""
    from opskit import clusters

    return clusters.current(cfg).kube()


def say(message: str) -> None:
    """A progress or result line for people (stderr keeps stdout clean for data)."""
    print(f"{PREFIX}: {message}", file=sys.stderr, flush=True)
