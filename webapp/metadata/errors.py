"""Domain errors. Each API turns these into its own dialect; the dashboard into messages."""
from __future__ import annotations


class MetadataError(Exception):
    """Base of every error the domain raises on purpose."""


class ValidationError(MetadataError):
    """Bad input. `errors` maps a field name to its messages, first message first."""

    def __init__(self, errors: dict[str, list[str]]):
        self.errors = errors
        first = next(iter(errors.values()))[0]
        super().__init__(first)

    @classmethod
    def single(cls, field: str, message: str) -> "ValidationError":
        return cls({field: [message]})

    @property
    def message(self) -> str:
        return str(self)


class NotFound(MetadataError):
    """The thing asked for does not exist (or is expired, which is the same to a reader)."""


class PreconditionFailed(MetadataError):
    """An If-Match / If-None-Match precondition did not hold; nothing was changed."""


class PermissionDenied(MetadataError):
    """The caller may not do this."""
