"""Logging that cannot leak an OAuth `code`, `state` or token through a URL.

The OAuth callback URL carries `code` and `state` in its query string, and some provider calls
carry tokens in theirs (Zoho's revoke takes `?token=`). uvicorn's access log and httpx's request
log would print those URLs, so the gateway logs requests itself (method, path, status, time;
never the query), strips query strings from the records of the libraries that log URLs, and
keeps httpcore's header trace off.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Awaitable, Callable

from fastapi import Request, Response

from lineup_integrations.gateway.errors import internal_error

access_logger = logging.getLogger("lineup_integrations.gateway.access")
error_logger = logging.getLogger("lineup_integrations.gateway.error")

_URL_QUERY = re.compile(r"(?P<url>(?:https?://|/)[^\s?\"'<>]*)\?[^\s\"'<>]*")

# Loggers of libraries that put full URLs in their messages.
URL_LOGGERS = ("httpx", "uvicorn.access", "uvicorn.error")
# httpcore's DEBUG trace prints raw response headers (a redirect's Location carries a code and
# state) from loggers below this one, where a filter here would not apply: it is capped instead.
TRACE_LOGGER = "httpcore"


def strip_query_strings(text: str) -> str:
    """`…/callback?code=x&state=y` → `…/callback?[redacted]`: the path stays useful, the query goes."""
    return _URL_QUERY.sub(r"\g<url>?[redacted]", text)


class QueryStringRedactor(logging.Filter):
    """Rewrites a record's message with every URL query string removed (formats it first)."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        redacted = strip_query_strings(message)
        if redacted != message:
            record.msg, record.args = redacted, None
        return True


def install_log_redaction() -> None:
    """Attach the redactor to the URL-logging libraries' loggers and cap httpcore's trace (idempotent)."""
    for name in URL_LOGGERS:
        target = logging.getLogger(name)
        if not any(isinstance(existing, QueryStringRedactor) for existing in target.filters):
            target.addFilter(QueryStringRedactor())
    logging.getLogger(TRACE_LOGGER).setLevel(logging.INFO)


async def log_requests(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
    """HTTP middleware: one access line per request without its query string, and a last-resort 500.

    An unexpected exception is answered with the stable error shape and logged by type only: its
    message or traceback could quote a URL or a provider response, so neither is printed.
    """
    started = time.perf_counter()
    try:
        response = await call_next(request)
    except Exception as error:
        error_logger.error("unhandled %s on %s %s", type(error).__name__, request.method, request.url.path)
        response = internal_error()
    elapsed_ms = (time.perf_counter() - started) * 1000
    access_logger.info("%s %s %d %.1fms", request.method, request.url.path, response.status_code, elapsed_ms)
    return response
