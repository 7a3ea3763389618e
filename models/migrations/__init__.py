"""Alembic migrations of the hub's schema; run them through :mod:`models.migrate`."""
