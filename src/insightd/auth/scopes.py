"""API scopes: ``<object>:<read|write>`` or ``*``; ``:write`` implies ``:read``."""

from __future__ import annotations

from collections.abc import Iterable

SCOPE_OBJECTS = ("insight", "dashboard", "query", "activity_log", "project", "event", "person")
VALID_SCOPES = frozenset({"*"} | {f"{obj}:{level}" for obj in SCOPE_OBJECTS for level in ("read", "write")})


class InvalidScope(ValueError):
    pass


def parse_scopes(text: str) -> list[str]:
    """Parse a comma list such as ``insight:read,insight:write`` or ``*``."""
    scopes = sorted({part.strip() for part in text.split(",") if part.strip()})
    if not scopes:
        raise InvalidScope("at least one scope is required (for example insight:read or *)")
    unknown = [s for s in scopes if s not in VALID_SCOPES]
    if unknown:
        raise InvalidScope(
            f"unknown scope(s): {', '.join(unknown)}; valid: {', '.join(sorted(VALID_SCOPES))}"
        )
    return scopes


def has_scope(granted: Iterable[str], required: str) -> bool:
    granted = set(granted)
    if not granted or "*" in granted or required in granted:  # empty = legacy unrestricted key
        return True
    obj, _, level = required.partition(":")
    return level == "read" and f"{obj}:write" in granted
