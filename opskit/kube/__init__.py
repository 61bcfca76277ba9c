"""Talking to a cluster: kubectl and the in-process API reads behind one interface,
rollouts, and the record of what the last deploy applied."""
