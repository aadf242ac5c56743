"""Client integrations; each imports its library only when used."""
