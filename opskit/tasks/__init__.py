"""invoke task modules, one per namespace: parse flags, call an opskit module, report."""
