"""What a set of rendered objects is checked against (an overlay, or the ArgoCD objects)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from opskit.core.config import Overlay


@dataclass(frozen=True)
class Target:
    """What a set of objects is checked against: its namespace and (overlays) its hosts."""

    name: str
    namespace: str
    overlay: Overlay | None = None

    @classmethod
    def of(cls, overlay: Overlay) -> Target:
        return cls(overlay.name, overlay.namespace, overlay)
