"""Alembic migrations of the hijackwatch schema (run by Database.upgrade())."""
