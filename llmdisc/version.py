"""The package version, in a module of its own so that any module can read it without importing
the package's public API (which imports every module: a cycle)."""

__all__ = ["__version__"]

__version__ = "0.1.0"
