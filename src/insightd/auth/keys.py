"""Personal API key values: generation, hashing and masking, as PostHog stores them."""

from __future__ import annotations

import hashlib
import secrets

PERSONAL_API_KEY_PREFIX = "phx_"
PROJECT_TOKEN_PREFIX = "phc_"
_BASE57 = "23456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"


def _random_base57(length: int) -> str:
    return "".join(secrets.choice(_BASE57) for _ in range(length))


def generate_personal_api_key() -> str:
    """``phx_`` + 47 base-57 characters (about 274 bits of entropy)."""
    return PERSONAL_API_KEY_PREFIX + _random_base57(47)


def generate_project_token() -> str:
    return PROJECT_TOKEN_PREFIX + _random_base57(43)


def hash_key_value(value: str) -> str:
    """PostHog's ``secure_value``: ``sha256$`` + hex digest, unsalted (keys are high-entropy)."""
    return "sha256$" + hashlib.sha256(value.encode()).hexdigest()


def mask_key_value(value: str) -> str:
    """First four and last four characters: ``phx_...abcd``."""
    return f"{value[:4]}...{value[-4:]}"
