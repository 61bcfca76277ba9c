"""Pure statistics of timings: summaries, ratios and the shape of growth."""

from __future__ import annotations

import statistics
from dataclasses import asdict, dataclass


@dataclass(frozen=True)
class Summary:
    """Wall times of one measurement, in seconds."""

    median: float
    min: float
    max: float
    runs: int

    def as_dict(self) -> dict:
        return asdict(self)


def summarize(samples: list[float]) -> Summary:
    """Median, min and max of `samples` (at least one)."""
    if not samples:
        raise ValueError("no samples to summarize")
    return Summary(statistics.median(samples), min(samples), max(samples), len(samples))


def ratio(numerator: Summary, denominator: Summary) -> float:
    """Ratio of the medians (inf when the baseline took no time at all)."""
    return numerator.median / denominator.median if denominator.median > 0 else float("inf")


@dataclass(frozen=True)
class Growth:
    """How a cost grows with the number of workloads (sizes ascending, medians in seconds)."""

    sizes: tuple[int, ...]
    medians: tuple[float, ...]
    slope: float  # seconds per added workload, first size to last
    slopes: tuple[float, ...]  # the slope of each step between consecutive sizes
    shape: str  # "sublinear" | "linear" | "superlinear"

    @property
    def linear_or_better(self) -> bool:
        return self.shape != "superlinear"

    def as_dict(self) -> dict:
        return {**asdict(self), "linear_or_better": self.linear_or_better}


def growth(
    points: dict[int, float], tolerance: float = 0.25, noise: float = 0.1, share: float = 0.05
) -> Growth:
    """Classify growth by its marginal cost (seconds per added workload, step by step).

    Superlinear: a step costs more per workload than the step before it, by more than
    `tolerance` AND by more absolute time than the noise (`noise` seconds or `share` of the
    largest median, whichever is more). With three or more steps the first is only a
    reference, never judged: with one to a few workloads the extra ones are absorbed by
    waits that happen anyway (a flat start then a straight line is linear, not a curve).
    """
    if len(points) < 2:
        raise ValueError("growth needs at least two sizes")
    sizes = tuple(sorted(points))
    medians = tuple(points[s] for s in sizes)
    slopes = tuple(
        (medians[i + 1] - medians[i]) / (sizes[i + 1] - sizes[i]) for i in range(len(sizes) - 1)
    )
    overall = (medians[-1] - medians[0]) / (sizes[-1] - sizes[0])
    floor = max(noise, share * max(medians))
    judged = range(2 if len(slopes) >= 3 else 1, len(slopes))
    shape = "linear"
    for i in judged:
        allowed = max(slopes[i - 1], 0.0) * (1 + tolerance)
        if (slopes[i] - allowed) * (sizes[i + 1] - sizes[i]) > floor:
            return Growth(sizes, medians, overall, slopes, "superlinear")
        if slopes[i] < max(slopes[i - 1], 0.0) * (1 - tolerance):
            shape = "sublinear"
    return Growth(sizes, medians, overall, slopes, shape)
