"""Quick test: classify an uploaded file or a URL with an iteration, flags explained in plain words."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter()
