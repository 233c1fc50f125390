"""Reading loosely typed request values the way PostHog does."""

from __future__ import annotations

TRUE_VALUES = frozenset({"y", "yes", "t", "true", "on", "1"})
INT32_MAX = 2**31 - 1
INT64_MAX = 2**63 - 1


def str_to_bool(value: str | None) -> bool:
    """PostHog's ``str_to_bool``: y, yes, t, true, on and 1 (any case) are true."""
    return value is not None and value.strip().lower() in TRUE_VALUES
