"""Storage exceptions, each with a message a user can act on."""

from __future__ import annotations


class StorageError(Exception):
    """The database could not be used."""


class SchemaOutOfDate(StorageError):
    """The database schema is older (or newer) than this hijackwatch version expects."""


class DatabaseUnavailable(StorageError):
    """The database could not be reached or written."""


class NotASpoolFile(StorageError):
    """A file given to ``import-spool`` is not a spool file: bad input, not a database
    problem."""


def one_line(exc: BaseException) -> str:
    """The error's message on one line (driver errors add hints on further lines)."""
    return " ".join(str(exc).split())
