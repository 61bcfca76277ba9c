"""The reading model (pydantic): imported with the first message, not at the service's start."""

from __future__ import annotations

from typing import Annotated

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, StringConstraints

MetricName = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]{0,31}$")]
MetricValue = Annotated[float, Field(allow_inf_nan=False)]


class Reading(BaseModel):
    """One reading; `id` is unique per device, so a redelivery is not a second reading."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)

    id: Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_.:-]{1,64}$")]
    seq: int = Field(ge=0)
    ts: AwareDatetime
    values: dict[MetricName, MetricValue] = Field(min_length=1, max_length=16)
