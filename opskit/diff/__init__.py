"""What changed: the offline diff of two refs, the live comparison, `invoke status`."""
