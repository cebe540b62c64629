"""The training side: the core loop every family shares (imports torch)."""
