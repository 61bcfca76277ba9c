"""The one type of a progress callback: it takes one line meant for people (`print`, a
task's `say`, a deploy record's `tee`, a test's `list.append`)."""

from collections.abc import Callable

Notify = Callable[[str], None]
