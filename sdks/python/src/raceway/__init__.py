"""Raceway: distributed tracing with vector clocks."""
