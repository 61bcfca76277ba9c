"""What every task shares: error handling, dry-run/echo wiring, the loaded config."""

from __future__ import annotations

import functools
import sys
import traceback
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from invoke import Exit

if TYPE_CHECKING:
    from opskit.clusters.connect import Connection
    from opskit.core.config import Config, Overlay

PREFIX = "opskit"
OVERLAY_HELP = "overlay name from opskit.yaml (e.g. dev, prod)"
DRY_RUN_HELP = "print the exact commands that would change something, and change nothing"
CONTEXT_HELP = "kube context (default: the configured cluster's); must be one the overlay allows"


def opskit_task(body: Callable[..., Any]) -> Callable[..., Any]:
    """Run a task body with the suite's conventions.

    Expected failures (OpsError) print one line and exit 1; Ctrl-C exits 130; a bug prints
    its traceback and exits 3. invoke's --dry sets the task's own `dry_run` flag, which the
    task passes down explicitly; --echo prints every command.
    """

    @functools.wraps(body)
    def wrapper(c, *args: Any, **kwargs: Any) -> Any:
        from opskit.core import shell
        from opskit.core.errors import OpsError

        dry = bool(kwargs.get("dry_run")) or bool(c.config.run.dry)
        if "dry_run" in kwargs:
            kwargs["dry_run"] = dry
        try:
            with shell.echoing(bool(c.config.run.echo) or None):
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


def load_config(c) -> Config:
    """The project config, loaded once per invoke run."""
    from opskit.core import config

    cached = getattr(c.config, "_opskit_config", None)
    if cached is None:
        cached = config.load()
        c.config._opskit_config = cached
    return cached


def connect(cfg: Config, overlay: Overlay | str | None, context: str | None) -> Connection:
    """The one way a task reaches a cluster (opskit.clusters.connect): kubeconfig, context,
    and the overlay's allow-list (any overlay's, for platform tasks without one)."""
    from opskit import clusters

    return clusters.connect(cfg, overlay, context)


def say(message: str) -> None:
    """A progress or result line for people (stderr keeps stdout clean for data)."""
    print(f"{PREFIX}: {message}", file=sys.stderr, flush=True)
