"""Helpers shared by the harness's own tests (one place, so test modules never import each other)."""
