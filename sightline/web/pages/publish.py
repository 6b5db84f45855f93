"""Publish: publish or unpublish an iteration under a name; the prediction URL, key and examples."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter()
