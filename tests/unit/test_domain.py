"""Pure rules: tags, dates, scopes, settings, search similarity, query kinds."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from pydantic import ValidationError

from insightd.auth.keys import generate_personal_api_key, hash_key_value, mask_key_value
from insightd.auth.scopes import InvalidScope, has_scope, parse_scopes
from insightd.domain.dates import parse_date
from insightd.domain.queries import InvalidQuery, insight_type, validate_query
from insightd.domain.search import similarity
from insightd.domain.tags import normalize_tags, tagify
from insightd.settings import Settings, parse_rate_limits


def test_tagify_and_normalize() -> None:
    assert tagify("  Mixed Case ") == "mixed case"
    assert normalize_tags(["  UPPER  ", "Mixed Case", "tag", "TAG", " ", ""]) == [
        "mixed case",
        "tag",
        "upper",
    ]


NOW = datetime(2024, 3, 15, 13, 30, tzinfo=UTC)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("-7d", datetime(2024, 3, 8, 13, 30, tzinfo=UTC)),
        ("-1dStart", datetime(2024, 3, 14, tzinfo=UTC)),
        ("-2w", datetime(2024, 3, 1, 13, 30, tzinfo=UTC)),
        ("-1m", datetime(2024, 2, 15, 13, 30, tzinfo=UTC)),
        ("-1mStart", datetime(2024, 2, 1, tzinfo=UTC)),
        ("-1y", datetime(2023, 3, 15, 13, 30, tzinfo=UTC)),
        ("-3h", datetime(2024, 3, 15, 10, 30, tzinfo=UTC)),
        ("2024-01-05", datetime(2024, 1, 5, tzinfo=UTC)),
        ("2024-01-05T10:00:00Z", datetime(2024, 1, 5, 10, tzinfo=UTC)),
    ],
)
def test_parse_date(text: str, expected: datetime) -> None:
    assert parse_date(text, "UTC", now=NOW) == expected


def test_parse_date_in_project_timezone() -> None:
    # Midnight in New York is 05:00 UTC in winter.
    assert parse_date("2024-01-05", "America/New_York") == datetime(2024, 1, 5, 5, tzinfo=UTC)
    assert parse_date("-1dStart", "America/New_York", now=NOW) == datetime(2024, 3, 14, 4, tzinfo=UTC)
    assert parse_date("yesterday", "UTC") is None


def test_month_arithmetic_clamps_to_month_end() -> None:
    assert parse_date("-1m", "UTC", now=datetime(2024, 3, 31, tzinfo=UTC)) == datetime(
        2024, 2, 29, tzinfo=UTC
    )


def test_scopes() -> None:
    assert parse_scopes("insight:write, insight:read") == ["insight:read", "insight:write"]
    assert has_scope(["insight:write"], "insight:read")
    assert not has_scope(["insight:read"], "insight:write")
    assert not has_scope(["dashboard:write"], "insight:read")
    assert has_scope(["*"], "dashboard:write")
    with pytest.raises(InvalidScope):
        parse_scopes("insights:read")
    with pytest.raises(InvalidScope):
        parse_scopes(" , ")


def test_key_values() -> None:
    key = generate_personal_api_key()
    assert key.startswith("phx_") and len(key) == 51
    assert hash_key_value(key).startswith("sha256$") and len(hash_key_value(key)) == 7 + 64
    assert mask_key_value(key) == f"phx_...{key[-4:]}"
    assert generate_personal_api_key() != key


def test_settings_validate_with_clear_messages(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("INSIGHTD_RATE_LIMITS", "600/minute,5000/hour")
    monkeypatch.setenv("INSIGHTD_DATABASE_URL", "postgres://u@h/db")
    settings = Settings()
    assert [(r.count, r.seconds) for r in settings.rate_limits] == [(600, 60), (5000, 3600)]
    assert settings.resolved_database_url == "postgresql+psycopg://u@h/db"
    monkeypatch.setenv("INSIGHTD_RATE_LIMITS", "lots")
    with pytest.raises(ValidationError, match="invalid rate limit 'lots'"):
        Settings()
    monkeypatch.setenv("INSIGHTD_RATE_LIMITS", "off")
    monkeypatch.setenv("INSIGHTD_DATABASE_URL", "mysql://x")
    with pytest.raises(ValidationError, match="must start with postgresql"):
        Settings()
    assert parse_rate_limits("off") == []


def test_similarity_matches_pg_trgm_on_simple_words() -> None:
    assert similarity("word", "word") == 1.0
    assert similarity("word", "two words") == pytest.approx(4 / 11)
    assert similarity("", "x") == 0.0


def test_query_kinds() -> None:
    trends = {"kind": "InsightVizNode", "source": {"kind": "TrendsQuery", "series": []}}
    assert insight_type(validate_query(trends)) == "TRENDS"
    sql = {"kind": "DataVisualizationNode", "source": {"kind": "HogQLQuery", "query": "select 1"}}
    assert insight_type(sql) == "SQL"
    assert insight_type({"kind": "HogQuery", "code": ""}) == "JSON"
    assert insight_type(None, {"insight": "funnels"}) == "FUNNELS"
    with pytest.raises(InvalidQuery, match="Unknown query kind"):
        validate_query({"kind": "Bogus"})
