"""Exports of a trained iteration."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    pass
from sightline.api.schemas.common import CamelModel

# --- exports ------------------------------------------------------------------------------------


class Export(CamelModel):
    platform: str
    status: str
    download_uri: str | None
    flavor: str | None = None
    newer_version_available: bool = False
