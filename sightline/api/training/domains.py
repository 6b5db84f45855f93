"""Domains: the backbones this server offers, in Custom Vision's shape."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path

from sightline.api.context import AppDomains
from sightline.api.schemas import Domain

router = APIRouter()


# --- domains ------------------------------------------------------------------------------------


@router.get("/domains", tags=["Domains"])
def get_domains(domains: AppDomains) -> list[Domain]:
    """Azure's Classification domains (each mapped to a backbone), then each backbone this server offers."""
    return [Domain.of(entry) for entry in domains.entries()]


@router.get("/domains/{domainId}", tags=["Domains"])
def get_domain(domains: AppDomains, requested: Annotated[str, Path(alias="domainId")]) -> Domain:
    return Domain.of(domains.entry(requested))
