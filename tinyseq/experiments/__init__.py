"""Experiments: complete, measured runs built on the library (each returns a result object)."""
