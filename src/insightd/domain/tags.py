"""Tag names as PostHog normalises them (``tagify``)."""

from __future__ import annotations

from collections.abc import Iterable


def tagify(name: str) -> str:
    """PostHog's ``tagify``: strip surrounding white space and lower-case; inner spaces stay."""
    return name.strip().lower()


def normalize_tags(names: Iterable[str]) -> list[str]:
    """Tagify each name, drop the ones that end up blank, merge duplicates; sorted."""
    return sorted({tag for tag in (tagify(n) for n in names) if tag})
