"""Checks of the repository itself: the CI parity model, CI schemas, kube-score, Elixir."""
