"""The one JSON error shape, for our errors and for FastAPI's own (404, 405, 422, 500).

    {"error": {"status": 422, "code": "invalid_input", "message": "...",
               "details": [{"index": 3, "field": "kind", "message": "..."}]}}
"""

from __future__ import annotations

import logging
from typing import Any, Final

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from starlette.exceptions import HTTPException as StarletteHTTPException

from glasscredit.errors import ConflictError, IngestError, InputError, LedgerError

log = logging.getLogger("glasscredit.api")

CODES: Final = {400: "bad_request", 401: "unauthorized", 403: "forbidden", 404: "not_found",
                405: "method_not_allowed", 409: "conflict", 413: "too_large",
                415: "unsupported_media_type", 422: "invalid_input", 429: "rate_limited",
                500: "internal_error"}


class ErrorDetail(BaseModel):
    """Where one problem is: the event index and field for a batch, else a location path."""

    message: str
    index: int | None = None
    field: str | None = None
    location: str | None = None


class ErrorInfo(BaseModel):
    status: int
    code: str
    message: str
    details: list[ErrorDetail] = []


class ErrorBody(BaseModel):
    """Every error response of the service has this shape."""

    error: ErrorInfo


ERROR_RESPONSES: Final[dict[int | str, dict[str, Any]]] = {
    status: {"model": ErrorBody, "description": code.replace("_", " ")}
    for status, code in CODES.items() if status not in (405, 415, 500)}


class ApiError(Exception):
    """An error with a status, a code and located details."""

    def __init__(self, status: int, message: str, details: list[ErrorDetail] | None = None,
                 headers: dict[str, str] | None = None, code: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.details = details or []
        self.headers = headers
        self.code = code or CODES.get(status, "error")


def error_response(status: int, message: str, details: list[ErrorDetail] | None = None,
                   headers: dict[str, str] | None = None, code: str | None = None
                   ) -> JSONResponse:
    body = ErrorBody(error=ErrorInfo(status=status, code=code or CODES.get(status, "error"),
                                     message=message, details=details or []))
    return JSONResponse(body.model_dump(), status_code=status, headers=headers)


def _validation_details(errors: list[Any]) -> list[ErrorDetail]:
    out = []
    for err in errors:
        loc = [str(p) for p in err.get("loc", ())]
        index = field = None
        if len(loc) >= 3 and loc[:2] == ["body", "events"] and loc[2].isdigit():
            index = int(loc[2])
            field = loc[3] if len(loc) > 3 else None
        out.append(ErrorDetail(message=str(err.get("msg", "invalid")), index=index, field=field,
                               location=".".join(loc)))
    return out


def install(app: FastAPI) -> None:
    """Register the handlers that turn every error into ``ErrorBody``."""

    @app.exception_handler(ApiError)
    async def _api(_: Request, exc: ApiError) -> JSONResponse:
        return error_response(exc.status, exc.message, exc.details, exc.headers, exc.code)

    @app.exception_handler(StarletteHTTPException)
    async def _http(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        return error_response(exc.status_code, str(exc.detail),
                              headers=dict(exc.headers) if exc.headers else None)

    @app.exception_handler(RequestValidationError)
    async def _invalid(_: Request, exc: RequestValidationError) -> JSONResponse:
        return error_response(422, "the request does not match the schema",
                              _validation_details(list(exc.errors())))

    @app.exception_handler(ConflictError)
    async def _conflict(_: Request, exc: ConflictError) -> JSONResponse:
        return error_response(409, str(exc))

    @app.exception_handler(IngestError)
    async def _ingest(_: Request, exc: IngestError) -> JSONResponse:
        details = [ErrorDetail(message=p.reason, index=p.row - 1, field=p.field)
                   for p in exc.rows]
        return error_response(422, str(exc), details)

    @app.exception_handler(InputError)
    async def _input(_: Request, exc: InputError) -> JSONResponse:
        return error_response(422, str(exc))

    @app.exception_handler(LedgerError)
    async def _ledger(_: Request, exc: LedgerError) -> JSONResponse:
        return error_response(409, str(exc))

    @app.exception_handler(Exception)
    async def _crash(_: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error", exc_info=exc)
        return error_response(500, "internal error; the request was not applied")
