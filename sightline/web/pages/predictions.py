"""Predictions: the review queue of stored predictions, uncertain first; accept or correct the tag."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter()
