"""Benchmarks of the Python SDK."""
