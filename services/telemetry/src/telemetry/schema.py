"""The reading schema: what a device may publish on devices/<id>/readings."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # the model (pydantic) is imported with the first message: see parse
    from telemetry.reading import Reading

MAX_PAYLOAD = 4096
DEVICE_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")


class Rejected(ValueError):
    """A message that is not a reading; `reason` is a metric label, the text says why."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(detail)
        self.reason = reason


def device_of(topic: str) -> str:
    """The device id in devices/<id>/readings."""
    parts = topic.split("/")
    if len(parts) != 3 or parts[0] != "devices" or parts[2] != "readings":
        raise Rejected("topic", f"topic {topic!r} is not devices/<id>/readings")
    if not DEVICE_ID.match(parts[1]):
        raise Rejected("topic", f"device id {parts[1]!r} is not [A-Za-z0-9_.-]{{1,64}}")
    return parts[1]


def parse(topic: str, payload: bytes) -> tuple[str, Reading]:
    """(device, reading) of one MQTT message, or Rejected saying why not."""
    device = device_of(topic)
    if len(payload) > MAX_PAYLOAD:
        raise Rejected("size", f"payload of {len(payload)} bytes exceeds {MAX_PAYLOAD}")
    # here, not at the top: pydantic and the model's schema take ~0.15 s to load, and with
    # `Recreate` the service is down on every rollout until its new pod is ready
    from pydantic import ValidationError

    from telemetry.reading import Reading

    try:
        return device, Reading.model_validate_json(payload)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "payload"
        reason = "json" if first["type"] == "json_invalid" else "schema"
        raise Rejected(reason, f"{where}: {first['msg']}") from None


def to_json(device: str, reading: Reading) -> dict[str, object]:
    """The reading as the API returns it."""
    return {"device": device, **reading.model_dump(mode="json")}
