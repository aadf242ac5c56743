"""Integrations with client and server libraries; each imports its library only when used."""
