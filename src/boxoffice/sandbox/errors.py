"""Stripe error objects as the sandbox returns them (``shared/stripe/README.md`` section 2)."""

from __future__ import annotations

from typing import Any

NO_KEY_MESSAGE = (
    "You did not provide an API key. You need to provide your API key in the Authorization header, using Bearer "
    "auth (e.g. 'Authorization: Bearer YOUR_SECRET_KEY'). See https://stripe.com/docs/api#authentication for "
    "details, or we can help at https://support.stripe.com/."
)


class SandboxError(Exception):
    """A request Stripe would refuse; rendered as ``{"error": {...}}`` with this HTTP status."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        type: str = "invalid_request_error",
        code: str | None = None,
        param: str | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.type = type
        self.code = code
        self.param = param

    def body(self) -> dict[str, Any]:
        error: dict[str, Any] = {"type": self.type, "message": self.message}
        if self.code:
            error["code"] = self.code
            error["doc_url"] = f"https://stripe.com/docs/error-codes/{self.code.replace('_', '-')}"
        if self.param:
            error["param"] = self.param
        return {"error": error}


def missing(param: str) -> SandboxError:
    return SandboxError(400, f"Missing required param: {param}.", code="parameter_missing", param=param)


def invalid(param: str, message: str, code: str = "parameter_invalid_string") -> SandboxError:
    return SandboxError(400, message, code=code, param=param)


def invalid_integer(param: str, value: object) -> SandboxError:
    return SandboxError(400, f"Invalid integer: {value}", code="parameter_invalid_integer", param=param)


def unknown_parameter(param: str) -> SandboxError:
    return SandboxError(400, f"Received unknown parameter: {param}", code="parameter_unknown", param=param)


def not_found(kind: str, object_id: str, param: str = "id") -> SandboxError:
    return SandboxError(404, f"No such {kind}: '{object_id}'", code="resource_missing", param=param)


def no_api_key() -> SandboxError:
    return SandboxError(401, NO_KEY_MESSAGE)


def invalid_api_key(key: str) -> SandboxError:
    """Stripe masks the key, keeping its prefix and last four characters (``sk_test_****c123``)."""
    prefix = key[: key.index("_", 3) + 1] if key.count("_") >= 2 else ""
    return SandboxError(401, f"Invalid API Key provided: {prefix}****{key[-4:]}")


def idempotency_mismatch(key: str) -> SandboxError:
    return SandboxError(
        400,
        "Keys for idempotent requests can only be used with the same parameters they were first used with. "
        f"Try using a key other than '{key}' if you meant to execute a different request.",
        type="idempotency_error",
    )


def idempotency_key_in_use() -> SandboxError:
    return SandboxError(
        409,
        "There is currently another in-progress request using this Idempotent Key (that probably means you "
        "submitted twice, and the other request is still going through): please retry in a moment.",
        code="idempotency_key_in_use",
    )


def api_error(status: int = 500) -> SandboxError:
    return SandboxError(
        status,
        "An unknown error occurred while processing your request. Please try again; if the problem persists, "
        "contact support.",
        type="api_error",
    )
