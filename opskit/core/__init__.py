"""The bottom layer: the one process layer, config, arguments, YAML, paths, locks, git facts.

Nothing here imports from the other folders of opskit."""
