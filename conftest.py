"""Repository root conftest: makes the repo root importable (``netattest``) for every session.

The acceptance suites' plugins are wired in ``netattest/suites/conftest.py``, so they never apply to the harness's
own tests in ``tests/``.
"""
