"""Train: warnings before training, the button, live progress, cancel, and the iterations so far."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter()
