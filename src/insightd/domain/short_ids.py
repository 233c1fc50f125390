"""PostHog's 8-character short ids (``generate_short_id``)."""

from __future__ import annotations

import secrets
import string

ALPHABET = string.ascii_letters + string.digits


def generate_short_id(length: int = 8) -> str:
    return "".join(secrets.choice(ALPHABET) for _ in range(length))
