"""Telemetry backend: devices publish readings over MQTT; they land in PostgreSQL."""
