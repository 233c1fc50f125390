"""Typed settings, read from the environment (prefix ``INSIGHTD_``) and validated at start-up.

Nothing here runs at import time: callers build a :class:`Settings` when they need one
(the CLI, the app factory, the tests).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

_RATE_RE = re.compile(r"^\s*(\d+)\s*/\s*(second|minute|hour|day)\s*$")
_PERIODS = {"second": 1, "minute": 60, "hour": 3600, "day": 86400}


class RateLimit:
    """``count`` requests per ``seconds``; parsed from strings such as ``240/minute``."""

    __slots__ = ("count", "seconds", "text")

    def __init__(self, count: int, seconds: int, text: str) -> None:
        self.count, self.seconds, self.text = count, seconds, text

    def __repr__(self) -> str:
        return f"RateLimit({self.text!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, RateLimit) and (self.count, self.seconds) == (other.count, other.seconds)

    def __hash__(self) -> int:
        return hash((self.count, self.seconds))


def parse_rate_limits(value: str) -> list[RateLimit]:
    """Parse ``"600/minute,5000/hour"``; ``"off"`` (or empty) disables rate limiting."""
    text = value.strip().lower()
    if text in ("", "off", "none", "0", "false"):
        return []
    limits = []
    for part in text.split(","):
        match = _RATE_RE.match(part)
        if not match:
            raise ValueError(
                f"invalid rate limit {part.strip()!r}: expected COUNT/PERIOD such as 240/minute "
                "(periods: second, minute, hour, day), a comma list of them, or 'off'"
            )
        limits.append(RateLimit(int(match.group(1)), _PERIODS[match.group(2)], part.strip()))
    return limits


class Settings(BaseSettings):
    """insightd's configuration. Every field can be set with ``INSIGHTD_<NAME>``."""

    model_config = SettingsConfigDict(env_prefix="INSIGHTD_", extra="ignore", arbitrary_types_allowed=True)

    data_dir: Path = Field(default=Path(".insightd"), description="Directory for embedded data.")
    database_url: str | None = Field(
        default=None,
        description="Metadata database URL; default SQLite in the data dir; postgresql://… for PostgreSQL.",
    )
    rate_limits: Annotated[list[RateLimit], NoDecode] = Field(
        default_factory=lambda: parse_rate_limits("240/minute,1200/hour"),
        description="Per personal API key limits on insight endpoints, e.g. '600/minute,5000/hour' or 'off'.",
    )
    auth_cache_seconds: float = Field(
        default=5.0,
        ge=0,
        description="How long a key's owner and project access are remembered (0: look up every request).",
    )
    engine_connections: int = Field(
        default=3,
        ge=1,
        le=32,
        description="Query connections to the embedded engine: how many insight queries run at once.",
    )
    queries_per_project: int | None = Field(
        default=None,
        ge=1,
        le=64,
        description="Computations of one project that run at once; more wait for a slot (default: one "
        "less than engine_connections, at least 1, so one project cannot take every connection).",
    )
    site_url: str | None = Field(default=None, description="Public base URL, used in absolute links.")
    wal_fsync: bool = Field(
        default=False,
        description="fsync the capture log before acknowledging events (survives power loss, not just a "
        "crash of the process; slower).",
    )
    llm_base_url: str | None = Field(
        default=None,
        description="OpenAI-compatible API base (e.g. http://127.0.0.1:11434/v1) for generate_metadata; "
        "unset means names are generated offline only.",
    )
    llm_model: str = Field(default="gpt-4.1-mini", description="Chat model asked for insight names.")
    llm_api_key: SecretStr | None = Field(default=None, description="Bearer key for the LLM endpoint.")
    llm_timeout: float = Field(
        default=10.0, gt=0, le=300, description="Seconds to wait for the LLM before answering offline."
    )

    @field_validator("rate_limits", mode="before")
    @classmethod
    def _parse_rate_limits(cls, value: object) -> object:
        if isinstance(value, str):
            return parse_rate_limits(value)
        return value

    @field_validator("database_url")
    @classmethod
    def _check_database_url(cls, value: str | None) -> str | None:
        if value is None or value.strip() == "":
            return None
        value = value.strip()
        if value.startswith(("postgres://", "postgresql://")):
            return "postgresql+psycopg://" + value.split("://", 1)[1]
        if value.startswith(("postgresql+psycopg://", "sqlite://", "sqlite+pysqlite://")):
            return value
        raise ValueError(
            "INSIGHTD_DATABASE_URL must start with postgresql:// or sqlite:///; "
            f"got {value.split('://', 1)[0]}://…"
        )

    @property
    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'insightd.db').resolve()}"

    @property
    def is_sqlite(self) -> bool:
        return self.resolved_database_url.startswith("sqlite")
