"""Structured logs: JSON lines (structlog + orjson), the request id on every record, no secrets.

:func:`configure_logging` is what ``mintage serve`` calls; embedders may call it too.  It
puts one handler on the root logger, so records of the stdlib ``logging`` module (Mintage's
own ``logging.getLogger("mintage")``, uvicorn's) and of structlog loggers come out through
the same processors and renderer.  Logs are JSON lines for collectors, readable lines on
a terminal (:func:`resolve_format`).

docs/architecture.md §4: nothing sensitive in logs.  :func:`redact` replaces the value of any key
that names a credential (``authorization``, ``password``, ``code``, ``*_token`` …) and scrubs
token-shaped text (``mint_at_…``, ``Bearer …``, ``client_secret=…``) out of every string,
including rendered exceptions.  It is a safety net: code should not log secrets at all.
"""

from __future__ import annotations

import logging
import os
import re
import sys
from collections.abc import Mapping
from contextvars import ContextVar
from typing import Any, Literal, TextIO

import orjson
import structlog
from structlog.typing import EventDict, Processor, WrappedLogger

#: the id of the request being served; the web layer sets it, every log record carries it
request_id_var: ContextVar[str | None] = ContextVar("mintage_request_id", default=None)

REDACTED = "[redacted]"

#: keys whose values are never logged (compared lower-case, with ``-`` read as ``_``)
SENSITIVE_KEYS = frozenset(
    {
        "authorization",
        "proxy_authorization",
        "cookie",
        "set_cookie",
        "client_secret",
        "secret",
        "secret_key",
        "password",
        "token",
        "access_token",
        "refresh_token",
        "id_token",
        "code",
        "code_verifier",
        "device_code",
        "assertion",
        "client_assertion",
        "pepper",
        "api_key",
        "private_key",
        "key_encryption_key",
    }
)
_SENSITIVE_SUFFIXES = ("_token", "_secret", "_password", "_verifier")

_NAMES = (
    r"access_token|refresh_token|id_token|token|client_secret|password|code_verifier|code"
    r"|device_code|client_assertion|assertion"
)
_SCRUBS: tuple[tuple[re.Pattern[str], str], ...] = (
    # Mintage's own credentials carry a recognisable prefix (core/credentials.py).
    (re.compile(r"\bmint_([a-z]{2})_[A-Za-z0-9_-]+"), rf"mint_\1_{REDACTED}"),
    (re.compile(r"(?i)\b(bearer|basic)\s+[A-Za-z0-9._~+/=-]+"), rf"\1 {REDACTED}"),
    # form or query text: client_secret=…&code=…
    (re.compile(rf"(?i)\b({_NAMES})=[^&\s\"',;]*"), rf"\1={REDACTED}"),
    # a dict or JSON rendered into a message: 'password': '…' or "code":"…"
    (
        re.compile(rf"(?i)([\"']({_NAMES}|authorization)[\"']\s*:\s*)([\"'])(?:(?!\3).)*\3"),
        rf"\1\3{REDACTED}\3",
    ),
)


# Every pattern above needs one of these; most logged strings have none, and one search
# is far cheaper than four substitutions (the access log formats ~8 strings a request).
_TRIGGER = re.compile(r"(?i)mint_|bearer|basic|=|[\"']\s*:")

_known_keys: dict[str, bool] = {}


def sensitive_key(key: object) -> bool:
    if not isinstance(key, str):
        return False
    known = _known_keys.get(key)
    if known is None:
        name = key.strip().lower().replace("-", "_")
        known = name in SENSITIVE_KEYS or name.endswith(_SENSITIVE_SUFFIXES)
        if len(_known_keys) < 4096:  # keys are few; a flood of odd ones is not cached
            _known_keys[key] = known
    return known


def scrub(text: str) -> str:
    """``text`` with token-shaped substrings replaced."""
    if _TRIGGER.search(text) is None:
        return text
    for pattern, replacement in _SCRUBS:
        text = pattern.sub(replacement, text)
    return text


def _clean(value: Any, depth: int = 0) -> Any:
    if isinstance(value, str):
        return scrub(value)
    if depth > 8:  # a pathological nesting is not worth walking
        return REDACTED
    if isinstance(value, Mapping):
        return {k: REDACTED if sensitive_key(k) else _clean(v, depth + 1) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [_clean(v, depth + 1) for v in value]
    if isinstance(value, bytes | bytearray):
        return scrub(bytes(value).decode("utf-8", "replace"))
    return value


#: fields the pipeline itself adds, which hold no caller data
_OURS = frozenset({"timestamp", "level", "logger"})


def redact(_logger: WrappedLogger, _method: str, event_dict: EventDict) -> EventDict:
    """structlog processor: drop credential values, scrub token-shaped text."""
    for key, value in event_dict.items():
        if key in _OURS:
            continue
        if sensitive_key(key):
            event_dict[key] = REDACTED
        elif value is not None and not isinstance(value, bool | int | float):
            event_dict[key] = _clean(value)
    return event_dict


def drop_duplicates(_logger: WrappedLogger, _method: str, event_dict: EventDict) -> EventDict:
    """structlog processor for stdlib records: drop second copies of the message.

    uvicorn adds an ANSI-coloured ``color_message``; ``message`` and ``asctime`` appear
    when another handler formatted the record first.  ``event`` already has the text.
    """
    for key in ("color_message", "message", "asctime"):
        event_dict.pop(key, None)
    return event_dict


def add_request_id(_logger: WrappedLogger, _method: str, event_dict: EventDict) -> EventDict:
    """structlog processor: the current request's id, when there is one."""
    request_id = request_id_var.get()
    if request_id is not None:
        event_dict.setdefault("request_id", request_id)
    return event_dict


LogFormat = Literal["auto", "json", "console"]


def resolve_format(fmt: LogFormat, stream: TextIO) -> Literal["json", "console"]:
    """``auto``: readable lines for a person at a terminal, JSON lines for everything else
    (a pipe, a file, a container runtime's log collector)."""
    if fmt != "auto":
        return fmt
    return "console" if _isatty(stream) else "json"


def supports_colour(stream: TextIO) -> bool:
    """ANSI colours only on a terminal that is not ``TERM=dumb``, and never under
    ``NO_COLOR`` (https://no-color.org)."""
    return (
        _isatty(stream) and os.environ.get("TERM", "") != "dumb" and not os.environ.get("NO_COLOR")
    )


def _isatty(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):  # a closed or minimal stream
        return False


def _dumps(obj: Any, **_kw: Any) -> str:
    return orjson.dumps(obj, default=repr, option=orjson.OPT_NON_STR_KEYS).decode()


_HANDLER_NAME = "mintage"


def configure_logging(
    level: str = "info",
    fmt: LogFormat = "auto",
    *,
    stream: TextIO | None = None,
) -> logging.Handler:
    """Send every log record, stdlib or structlog, through one redacting renderer.

    ``fmt="json"`` writes one JSON object per line (``timestamp``, ``level``, ``logger``,
    ``event``, ``request_id`` inside a request, and any extra fields); ``"console"`` is
    for people, in colour where the terminal supports it; ``"auto"`` is ``console``
    when ``stream`` (stderr by default) is a terminal and ``json`` otherwise.  Calling it
    again replaces the handler it installed before.  Returns that handler.
    """
    out = stream or sys.stderr
    shared: list[Processor] = [
        structlog.contextvars.merge_contextvars,
        add_request_id,
        structlog.stdlib.add_logger_name,
        structlog.stdlib.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]
    renderer: Processor
    if resolve_format(fmt, out) == "json":
        renderer = structlog.processors.JSONRenderer(serializer=_dumps)
    else:
        renderer = structlog.dev.ConsoleRenderer(colors=supports_colour(out))
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=[*shared, structlog.stdlib.ExtraAdder(), drop_duplicates],
        processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            structlog.processors.format_exc_info,
            redact,
            renderer,
        ],
    )
    structlog.configure(
        processors=[
            structlog.stdlib.filter_by_level,
            *shared,
            structlog.stdlib.PositionalArgumentsFormatter(),
            structlog.processors.StackInfoRenderer(),
            structlog.stdlib.ProcessorFormatter.wrap_for_formatter,
        ],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )
    handler = logging.StreamHandler(out)
    handler.set_name(_HANDLER_NAME)
    handler.setFormatter(formatter)
    root = logging.getLogger()
    for old in [h for h in root.handlers if h.get_name() == _HANDLER_NAME]:
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level.upper())
    # Alembic announces each of its plugins at INFO on every start (the schema check
    # runs at start-up); its warnings still come through.
    if logging.getLevelName(level.upper()) != logging.DEBUG:
        logging.getLogger("alembic").setLevel(logging.WARNING)
    return handler
