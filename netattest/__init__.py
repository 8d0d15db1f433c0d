"""netattest: prove what a cluster's secondary networks really do."""

__version__ = "0.1.0"
