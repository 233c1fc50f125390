"""Why a capture request was refused, in the words and codes of PostHog's capture service."""

from __future__ import annotations


class CaptureError(Exception):
    """A refused capture request: HTTP ``status``, PostHog's ``code`` and a readable ``message``."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message

    def body(self) -> dict[str, object]:
        # capture-rs's JSON error body, plus ``detail`` which posthog-python prints.
        return {"status": self.status, "code": self.code, "error": self.message, "detail": self.message}


def decoding_error(reason: str) -> CaptureError:
    return CaptureError(400, "request_decoding_error", f"failed to decode request: {reason}")


def parsing_error(reason: str) -> CaptureError:
    return CaptureError(400, "request_parsing_error", f"failed to parse request: {reason}")
