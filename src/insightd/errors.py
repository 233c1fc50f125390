"""insightd's domain errors: one hierarchy, translated to HTTP in one place (``api.errors``).

Every error carries PostHog's error body fields (``type``, ``code``, ``detail``, ``attr``) and
an HTTP status, so services can raise them without knowing about the web framework::

    InsightdError
    ├── ValidationFailed        400 validation_error   (bad field values; attr names the field)
    ├── ParseError              400 invalid_request/parse_error
    ├── NotAuthenticated        401 authentication_error/not_authenticated
    ├── AuthenticationFailed    401 authentication_error/authentication_failed
    ├── PermissionDenied        403 authentication_error/permission_denied
    ├── NotFound                404 invalid_request/not_found
    ├── MethodNotAllowed        405 invalid_request/method_not_allowed
    ├── UnsupportedMediaType    415 invalid_request/unsupported_media_type
    └── Throttled               429 throttled_error/throttled (+ Retry-After)
"""

from __future__ import annotations


class InsightdError(Exception):
    status = 500
    type = "server_error"
    code = "error"
    default_detail = "A server error occurred."

    def __init__(
        self, detail: str | None = None, *, code: str | None = None, attr: str | None = None
    ) -> None:
        self.detail = detail if detail is not None else self.default_detail
        if code is not None:
            self.code = code
        self.attr = attr
        super().__init__(self.detail)

    def body(self) -> dict[str, str | None]:
        return {"type": self.type, "code": self.code, "detail": self.detail, "attr": self.attr}

    def headers(self) -> dict[str, str]:
        return {}


class ValidationFailed(InsightdError):
    status = 400
    type = "validation_error"
    code = "invalid_input"
    default_detail = "Invalid input."


class ParseError(InsightdError):
    status = 400
    type = "invalid_request"
    code = "parse_error"
    default_detail = "Malformed request."


class NotAuthenticated(InsightdError):
    status = 401
    type = "authentication_error"
    code = "not_authenticated"
    default_detail = "Authentication credentials were not provided."

    def headers(self) -> dict[str, str]:
        return {"WWW-Authenticate": "Bearer"}


class AuthenticationFailed(NotAuthenticated):
    code = "authentication_failed"
    default_detail = "Incorrect authentication credentials."


class PermissionDenied(InsightdError):
    status = 403
    type = "authentication_error"
    code = "permission_denied"
    default_detail = "You do not have permission to perform this action."


class NotFound(InsightdError):
    status = 404
    type = "invalid_request"
    code = "not_found"
    default_detail = "Not found."


class MethodNotAllowed(InsightdError):
    status = 405
    type = "invalid_request"
    code = "method_not_allowed"

    def __init__(self, method: str) -> None:
        super().__init__(f'Method "{method}" not allowed.')


class UnsupportedMediaType(InsightdError):
    status = 415
    type = "invalid_request"
    code = "unsupported_media_type"

    def __init__(self, media_type: str) -> None:
        super().__init__(f'Unsupported media type "{media_type}" in request.')


class NotAcceptable(InsightdError):
    status = 406
    type = "invalid_request"
    code = "not_acceptable"
    default_detail = "Could not satisfy the request Accept header."


class Throttled(InsightdError):
    status = 429
    type = "throttled_error"
    code = "throttled"

    def __init__(self, wait_seconds: int) -> None:
        self.wait_seconds = max(1, wait_seconds)
        unit = "second" if self.wait_seconds == 1 else "seconds"
        super().__init__(f"Request was throttled. Expected available in {self.wait_seconds} {unit}.")

    def headers(self) -> dict[str, str]:
        return {"Retry-After": str(self.wait_seconds)}


class QueryError(ValidationFailed):
    """A query that cannot be computed as written (bad dates, unsupported kind, engine refusal)."""

    code = "query_error"
    default_detail = "The query could not be computed."
