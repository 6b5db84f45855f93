"""Helpers every schema shares: camelCase aliases, UTC datetimes, strict base64, the error body."""

from __future__ import annotations

import base64
import binascii
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Annotated

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, WithJsonSchema
from pydantic.alias_generators import to_camel

if TYPE_CHECKING:
    pass


def _strict_base64(value: object) -> bytes:
    """Standard base64 (line breaks allowed), refusing other characters instead of skipping them."""
    if not isinstance(value, str):
        raise ValueError("expected a base64 string")
    try:
        return base64.b64decode("".join(value.split()), validate=True)
    except binascii.Error as error:
        raise ValueError(f"not valid base64: {error}") from None


Base64Bytes = Annotated[bytes, BeforeValidator(_strict_base64), WithJsonSchema({"type": "string", "format": "byte"})]


def _as_utc(moment: datetime) -> datetime:
    """A time sent without a zone is UTC, as in Azure's APIs; one whose UTC form leaves years 1-9999 is refused."""
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    try:
        moment.astimezone(UTC)  # what the database layer will do with it
    except OverflowError:
        raise ValueError("the time in UTC falls outside the years 1 to 9999") from None
    return moment


UtcDatetime = Annotated[datetime, AfterValidator(_as_utc)]


class CamelModel(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True)


class CustomVisionError(CamelModel):
    code: str
    message: str
