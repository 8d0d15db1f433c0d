"""Repository root conftest: makes the repo root importable (``fixtures``, ``netattest``) for every session.

The acceptance suites' plugins are wired in ``suites/conftest.py``, so they never apply to the harness's own
tests in ``tests/``.
"""
