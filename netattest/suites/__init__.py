"""The acceptance suites; a package, so ``pytest --pyargs netattest.suites`` finds them in an installed netattest."""
