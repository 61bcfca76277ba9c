"""Prometheus metrics of the pipeline, in a registry of their own (one per service)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60)


class Metrics:
    """received = stored + duplicate + rejected + dropped + buffered, at any time."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.received = Counter("telemetry_messages_received", "MQTT messages received", registry=r)
        self.rejected = Counter(
            "telemetry_messages_rejected",
            "Messages that are not valid readings, by reason",
            ["reason"],
            registry=r,
        )
        self.stored = Counter("telemetry_readings_stored", "Readings written", registry=r)
        self.duplicate = Counter(
            "telemetry_readings_duplicate", "Redelivered readings already stored", registry=r
        )
        self.dropped = Counter(
            "telemetry_readings_dropped", "Readings given up on, by reason", ["reason"], registry=r
        )
        self.buffered = Gauge(
            "telemetry_buffer_readings", "Readings waiting to be stored", registry=r
        )
        self.lag = Gauge(
            "telemetry_lag_seconds",
            "Publish-to-stored delay of the last batch's oldest",
            registry=r,
        )
        self.latency = Histogram(
            "telemetry_store_latency_seconds",
            "Publish-to-stored delay per reading",
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.broker_up = Gauge("telemetry_broker_connected", "1 while subscribed", registry=r)
        self.database_up = Gauge("telemetry_database_connected", "1 while writes work", registry=r)
        self.reconnects = Counter(
            "telemetry_broker_connects", "Successful (re)connections to the broker", registry=r
        )
