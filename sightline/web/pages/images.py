"""Images: the thumbnail grid, filters, uploads with tags, bulk tag/untag/delete, and one image's detail."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter()
