"""API errors in OpenAI's JSON shape: `{"error": {"message", "type", "param", "code"}}`.

Everything a client can get wrong raises `ApiError` with the HTTP status OpenAI would use, so
SDKs raise their usual exceptions (BadRequestError, AuthenticationError, ...).
"""

from __future__ import annotations


class ApiError(Exception):
    def __init__(self, status: int, message: str, type: str = "invalid_request_error", param: str | None = None,
                 code: str | None = None, headers: dict[str, str] | None = None):
        super().__init__(message)
        self.status = status
        self.message = message
        self.type = type
        self.param = param
        self.code = code
        self.headers = headers or {}

    def body(self) -> dict:
        return {"error": {"message": self.message, "type": self.type, "param": self.param, "code": self.code}}


def bad_request(message: str, param: str | None = None, code: str | None = None) -> ApiError:
    return ApiError(400, message, param=param, code=code)


def unauthorized(message: str = "invalid or missing API key (send 'Authorization: Bearer KEY')") -> ApiError:
    return ApiError(401, message, type="authentication_error", code="invalid_api_key",
                    headers={"WWW-Authenticate": "Bearer"})


def too_large(limit: int) -> ApiError:
    return ApiError(413, f"the request body is over the limit of {limit} bytes", code="request_too_large")


def overloaded(retry_after_s: int = 1) -> ApiError:
    """`retry_after_s`: the server's estimate of when a slot frees up (from its current rate)."""
    return ApiError(503, f"the server is busy (too many requests in flight); retry in about {retry_after_s} s",
                    type="server_error", code="server_overloaded", headers={"Retry-After": str(retry_after_s)})


def shutting_down() -> ApiError:
    return ApiError(503, "the server is shutting down", type="server_error", code="server_shutting_down")


def from_alm_error(exc: Exception, param: str | None = None) -> ApiError:
    """A user-facing `AlmError` (bad audio, a limit, a bad conversation) -> 400 with a code that says which."""
    from alm.errors import AudioError
    from alm.limits import LimitError

    if isinstance(exc, LimitError):
        return bad_request(str(exc), param=param or exc.limit, code="limit_exceeded")
    return bad_request(str(exc), param=param, code="invalid_audio" if isinstance(exc, AudioError) else None)


def not_found(message: str, param: str | None = None) -> ApiError:
    return ApiError(404, message, param=param, code="model_not_found" if param == "model" else "not_found")
