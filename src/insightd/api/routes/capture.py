"""PostHog's capture API (``/batch/``, ``/e/``, ``/i/v0/e/``, ``/capture/``, ``/track/``) for the SDKs."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(tags=["capture"])
