"""Tagging: drop a photo, get the pre-built tags with their confidence."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter()
