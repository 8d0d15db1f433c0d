"""Targets: where the topology is realised and probed (the embedded lab, or a real cluster)."""
