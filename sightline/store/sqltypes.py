"""Column types shared by the models: timestamps that are always timezone-aware UTC.

SQLite has no timezone type and hands back naive datetimes; PostgreSQL hands back the session's
zone. Normalising in one TypeDecorator means every layer above compares and serialises the same
aware UTC values, whichever database is underneath.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import DateTime
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator


def utcnow() -> datetime:
    """The current time as an aware UTC datetime, the only kind the store accepts."""
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """A timestamp stored as UTC and always read back as an aware UTC datetime.

    Naive datetimes are refused on write: their zone is a guess, and a wrong guess silently
    shifts job leases by hours.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> Any:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"naive datetime {value!r}: pass an aware UTC datetime (see utcnow())")
        value = value.astimezone(UTC)
        # SQLite stores text without an offset; all values are UTC, so text order is time order.
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
