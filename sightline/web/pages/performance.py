"""Performance of an iteration: figures, the threshold slider, PR curves, confusion, reliability, mistakes."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter()
