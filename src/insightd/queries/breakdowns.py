"""Breakdown ranking, limit and the "other" bucket (spec §3.2)."""

from __future__ import annotations

from typing import Any

NULL = "$$_posthog_breakdown_null_$$"
OTHER = "$$_posthog_breakdown_other_$$"


def _total(values: list[float] | float) -> float:
    return sum(values) if isinstance(values, list) else values


def _kind(key: str | None) -> int:
    return 2 if key == OTHER else 1 if key == NULL else 0


def limit_values(
    values: dict[str | None, list[float] | float], limit: int
) -> tuple[dict[str | None, list[float] | float], bool]:
    """Rank normal → null, then total desc, then value asc; merge everything past ``limit`` into other."""
    ranked = sorted(values.items(), key=lambda kv: (_kind(kv[0]), -_total(kv[1]), str(kv[0])))
    kept, rest = ranked[:limit], ranked[limit:]
    out = dict(kept)
    if rest:
        first = rest[0][1]
        if isinstance(first, list):
            columns = [v for _, v in rest if isinstance(v, list)]
            out[OTHER] = [sum(col) for col in zip(*columns, strict=True)]
        else:
            out[OTHER] = sum(v for _, v in rest if not isinstance(v, list))
    return out, bool(rest)


def formula_rank(item: dict[str, Any]) -> tuple[int, float, str]:
    total = item.get("aggregated_value")
    if total is None:
        total = sum(item.get("data") or [])
    return (_kind(item.get("breakdown_value")), -float(total), str(item.get("breakdown_value")))
