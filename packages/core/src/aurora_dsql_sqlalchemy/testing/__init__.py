"""Test support: the embedded PostgreSQL and the pytest plugin."""
