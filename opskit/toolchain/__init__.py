"""The Go-built tools (`invoke tools.install`) and `invoke doctor`."""
