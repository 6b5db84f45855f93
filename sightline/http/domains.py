"""Custom Vision's domains are Sightline's backbones: each served backbone is a Classification domain.

A served backbone's domain id is a uuid5 of the backbone name, so it stays the same across restarts
and servers; its name is the model's, never a server path. Azure's own classification domains
(General, General [A2], Food ... with Azure's ids, which clients hard-code or look up by name) are
offered too, each mapped to a served backbone (`SIGHTLINE_AZURE_DOMAINS`, default: the first one).
Azure's object detection domains are known by id so that a project asking for one is refused plainly.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import PurePath

from sightline.codes import ErrorCode
from sightline.config import env_text
from sightline.errors import NotFoundError, SightlineError
from sightline.service.engine import resolve_backbone_name

_NAMESPACE = uuid.UUID("6f0c5a52-3b4e-5d2a-9a51-7e1d3c9b8f40")


def _canonical(backbone: str) -> str:
    return resolve_backbone_name(backbone)


def domain_id(backbone: str) -> str:
    return str(uuid.uuid5(_NAMESPACE, _canonical(backbone)))


#: Azure Custom Vision's classification domains: (id, name). Ids from Training v3.3's GetDomains example,
#: and (General [A1], General [A2], General (compact) [S1], Food (compact)) from the live service's list.
AZURE_CLASSIFICATION_DOMAINS: tuple[tuple[str, str], ...] = (
    ("ee85a74c-405e-4adc-bb47-ffa8ca0c9f31", "General"),
    ("a8e3c40f-fb4a-466f-832a-5e457ae4a344", "General [A1]"),
    ("2e37d7fb-3a54-486a-b4d6-cfc369af0018", "General [A2]"),
    ("c151d5b5-dd07-472a-acc8-15d29dea8518", "Food"),
    ("ca455789-012d-4b50-9fec-5bb63841c793", "Landmarks"),
    ("b30a91ae-e3c1-4f73-a81e-c270bff27c39", "Retail"),
    ("45badf75-3591-4f26-a705-45678d3e9f5f", "Adult"),
    ("0732100f-1a38-4e49-a514-c9b44c697ab5", "General (compact)"),
    ("a1db07ca-a19a-4830-bae8-e004a42dc863", "General (compact) [S1]"),
    ("8882951b-82cd-4c32-970b-d5f8cb8bf6d7", "Food (compact)"),
    ("b5cfd229-2ac7-4b2b-8d0a-2b0661344894", "Landmarks (compact)"),
    ("6b4faeda-8396-481b-9f8b-177b9fa3097f", "Retail (compact)"),
)
#: Azure's object detection domains, which Sightline does not do.
AZURE_OBJECT_DETECTION_DOMAINS: tuple[tuple[str, str], ...] = (
    ("da2e3a8a-40a5-4171-82f4-58522f70fbc1", "General"),
    ("9c616dff-2e7d-ea11-af59-1866da359ce6", "General [A1]"),
    ("1d8ffafe-ec40-4fb2-8f90-72b3b6cecea4", "Logo"),
    ("3780a898-81c3-4516-81ae-3a139614e1f3", "Products on Shelves"),
    ("a27d5ca5-bb19-49d8-a70a-fec086c47f5b", "General (compact)"),
    ("7ec2ac80-887b-48a6-8df9-8b1357765430", "General (compact) [S1]"),
)


class ObjectDetectionError(SightlineError):
    """Object detection (domains, regions, detect routes) is not something Sightline does."""

    code = ErrorCode.BadRequestUnsupportedDomain


def display_name(backbone: str) -> str:
    """A backbone's name for people: the model, without the server's folders (`onnx:/srv/m/x.onnx` -> `x`)."""
    if backbone.startswith("onnx:"):
        return PurePath(backbone[5:]).stem
    if backbone.startswith("hf:"):
        name = backbone[3:]
        return PurePath(name).name if name.startswith(("/", ".", "~")) else name
    return backbone


def azure_domains_from_env() -> dict[str, str]:
    """`SIGHTLINE_AZURE_DOMAINS`: `General=onnx:models/a.onnx;Food=hf:...`, Azure domain name (or id) to backbone."""
    pairs = [p.split("=", 1) for p in (env_text("SIGHTLINE_AZURE_DOMAINS") or "").split(";") if "=" in p]
    return {name.strip(): backbone.strip() for name, backbone in pairs if name.strip() and backbone.strip()}


@dataclass(frozen=True)
class DomainEntry:
    """One domain as GET /domains lists it: id, clean name, and the backbone it trains with."""

    id: str
    name: str
    backbone: str


@dataclass(frozen=True)
class Domains:
    """The backbones this server offers, first one the default for new projects."""

    backbones: tuple[str, ...]
    #: Azure domain id -> backbone, for each of Azure's classification domains.
    azure: Mapping[str, str] = field(default_factory=dict)

    @classmethod
    def of(cls, backbones: Sequence[str], azure: Mapping[str, str] | None = None) -> Domains:
        """`azure` maps Azure domain names or ids to backbones (default `SIGHTLINE_AZURE_DOMAINS`); unmapped
        Azure domains train with the first backbone. A mapped backbone that is not served is served too."""
        names = list(dict.fromkeys(_canonical(b) for b in backbones))
        if not names:
            raise ValueError("a server needs at least one backbone")
        wanted = {k.lower(): _canonical(v) for k, v in (azure_domains_from_env() if azure is None else azure).items()}
        known = {key.lower() for pair in AZURE_CLASSIFICATION_DOMAINS for key in pair}
        unknown = sorted(set(wanted) - known)
        if unknown:
            raise ValueError(f"unknown Azure domain(s) {unknown}: use {[n for _, n in AZURE_CLASSIFICATION_DOMAINS]}")
        mapping = {}
        for id_, name in AZURE_CLASSIFICATION_DOMAINS:
            backbone = wanted.get(id_) or wanted.get(name.lower()) or names[0]
            if backbone not in names:
                names.append(backbone)
            mapping[id_] = backbone
        return cls(tuple(names), mapping)

    def entries(self) -> list[DomainEntry]:
        """Azure's classification domains first (as Azure lists them), then each backbone under its own name."""
        azure = [DomainEntry(i, name, self.azure[i]) for i, name in AZURE_CLASSIFICATION_DOMAINS if i in self.azure]
        own = [DomainEntry(domain_id(b), display_name(b), b) for b in self.backbones]
        return azure + own

    def entry(self, id_: str) -> DomainEntry:
        wanted = str(id_).lower()
        for entry in self.entries():
            if entry.id == wanted:
                return entry
        self._refuse_object_detection(wanted)
        raise NotFoundError(
            f"no domain with id {id_}: GET /domains lists this server's domains", ErrorCode.NotFoundDomain
        )

    @staticmethod
    def _refuse_object_detection(id_: str) -> None:
        for od_id, name in AZURE_OBJECT_DETECTION_DOMAINS:
            if od_id == id_:
                raise ObjectDetectionError(
                    f"{name} (ObjectDetection) is an object detection domain: Sightline does image classification "
                    "only; pick a Classification domain from GET /domains"
                )

    @property
    def default(self) -> str:
        return self.backbones[0]

    def backbone_for(self, id_: str | None) -> str:
        """The backbone a domainId names; None means the default one."""
        if id_ is None:
            return self.default
        return self.entry(id_).backbone
