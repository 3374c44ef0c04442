"""``mintage audit``: list the security events the server recorded, newest first.

Filters combine (all must match).  Times are shown and read in UTC: ``--since`` and
``--until`` take an ISO 8601 date or date-time (``2026-11-28``, ``2026-11-28T14:30``,
``2026-11-28T14:30:00+01:00``; without an offset it is UTC) or an age such as ``90s``,
``15m``, ``1h``, ``7d`` or ``2w`` (that long ago).  ``--since`` is inclusive, ``--until``
exclusive.  ``--json`` prints one JSON array, like the other commands.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

import click

from ..core.audit import AuditEventType
from ..core.clock import system_clock
from ..core.models import AuditEvent
from .context import (
    BadInputError,
    database_url_option,
    echo_json,
    json_option,
    load_settings,
    with_store,
)

_AGE = re.compile(r"^(\d+)([smhdw])$")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86_400, "w": 7 * 86_400}
KNOWN = tuple(kind.value for kind in AuditEventType)


class When(click.ParamType[int, Any]):
    """A point in time, as epoch seconds: ISO 8601 (UTC unless it says otherwise) or
    an age (``7d``) counted back from now."""

    name = "WHEN"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> int:
        if isinstance(value, int):
            return value
        text = str(value).strip()
        age = _AGE.match(text)
        if age:
            return system_clock() - int(age.group(1)) * _UNIT_SECONDS[age.group(2)]
        try:
            moment = dt.datetime.fromisoformat(text)
        except ValueError:
            self.fail(
                f"{value!r} is neither an ISO 8601 date or time nor an age like 1h or 7d",
                param,
                ctx,
            )
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=dt.UTC)
        return int(moment.timestamp())


def event_names(patterns: tuple[str, ...]) -> set[str] | None:
    """The names ``--event`` selects: exact names, or ``group.*`` for a whole group."""
    if not patterns:
        return None
    names: set[str] = set()
    for pattern in patterns:
        if pattern.endswith(".*"):
            group = [n for n in KNOWN if n.startswith(pattern[:-1])]
            if not group:
                raise BadInputError(f"no audit event matches {pattern}; known: {', '.join(KNOWN)}")
            names.update(group)
        elif pattern in KNOWN:
            names.add(pattern)
        else:
            raise BadInputError(f"unknown audit event {pattern}; known: {', '.join(KNOWN)}")
    return names


def iso(at: int) -> str:
    return dt.datetime.fromtimestamp(at, dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def event_record(event: AuditEvent) -> dict[str, Any]:
    """An event for ``--json``: every field, and the time both ways."""
    return {
        "id": event.id,
        "at": event.at,
        "time": iso(event.at),
        "event": event.event,
        "client_id": event.client_id,
        "subject": event.subject,
        "ip": event.ip,
        "request_id": event.request_id,
        "detail": dict(event.detail),
    }


def _value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return ",".join(_value(v) for v in value) or "-"
    if value is None:
        return "-"
    text = str(value)
    return repr(text) if not text or " " in text else text


def _detail(event: AuditEvent) -> str:
    return " ".join(f"{key}={_value(value)}" for key, value in event.detail.items())


_COLUMNS = ("TIME (UTC)", "EVENT", "CLIENT", "SUBJECT", "IP")


def print_table(events: list[AuditEvent]) -> None:
    """One line per event; the detail last, as ``key=value`` pairs."""
    rows = [
        (iso(e.at), e.event, e.client_id or "-", e.subject or "-", e.ip or "-", _detail(e))
        for e in events
    ]
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(_COLUMNS)]
    header = "  ".join(h.ljust(w) for h, w in zip(_COLUMNS, widths, strict=True))
    click.echo(f"{header}  DETAIL")
    for row in rows:
        cells = "  ".join(c.ljust(w) for c, w in zip(row[:-1], widths, strict=True))
        click.echo(f"{cells}  {row[-1]}".rstrip())


@click.command("audit")
@click.option(
    "--event",
    "events",
    multiple=True,
    metavar="NAME",
    help="Only this event (repeatable); group.* for a whole group, e.g. login.*.",
)
@click.option("--client", "client_id", metavar="CLIENT_ID", help="Only events of this client.")
@click.option("--subject", metavar="SUBJECT", help="Only events about this user id (or client id).")
@click.option("--since", type=When(), help="From this time on (ISO 8601, UTC; or an age: 1h, 7d).")
@click.option("--until", type=When(), help="Before this time (ISO 8601, UTC; or an age).")
@click.option(
    "--limit",
    type=click.IntRange(1, 100_000),
    default=50,
    show_default=True,
    help="At most this many events, the newest.",
)
@json_option
@database_url_option
@click.pass_context
def audit(
    ctx: click.Context,
    events: tuple[str, ...],
    client_id: str | None,
    subject: str | None,
    since: int | None,
    until: int | None,
    limit: int,
    as_json: bool,
) -> None:
    """List recorded security events, newest first.

    Events: token.issued, token.refreshed, token.revoked, refresh.reuse_detected,
    refresh.grace_replayed, code.replay_detected, login.succeeded, login.failed,
    login.locked, client.created, client.deleted, client.secret_rotated,
    consent.revoked, key.rotated, key.retired, key.resealed (docs/operations.md).
    """
    names = event_names(events)
    found = with_store(
        load_settings(ctx),
        lambda store: store.list_audit_events(
            events=names,
            client_id=client_id,
            subject=subject,
            since=since,
            until=until,
            limit=limit,
        ),
    )
    if as_json:
        echo_json([event_record(e) for e in found])
    elif not found:
        click.echo("no audit events match")
    else:
        print_table(found)
