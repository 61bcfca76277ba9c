"""The project's own services, as the suite drives them (the telemetry pipeline)."""
