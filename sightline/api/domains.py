"""Custom Vision's domains are Sightline's backbones: each served backbone is a Classification domain.

A domain's id is a uuid5 of the backbone name, so it stays the same across restarts and servers.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass

from sightline.backbones import resolve_backbone_name
from sightline.errors import NotFoundError

_NAMESPACE = uuid.UUID("6f0c5a52-3b4e-5d2a-9a51-7e1d3c9b8f40")


def _canonical(backbone: str) -> str:
    return resolve_backbone_name(backbone)


def domain_id(backbone: str) -> str:
    return str(uuid.uuid5(_NAMESPACE, _canonical(backbone)))


@dataclass(frozen=True)
class Domains:
    """The backbones this server offers, first one the default for new projects."""

    backbones: tuple[str, ...]

    @classmethod
    def of(cls, backbones: Sequence[str]) -> Domains:
        names = tuple(dict.fromkeys(_canonical(b) for b in backbones))
        if not names:
            raise ValueError("a server needs at least one backbone")
        return cls(names)

    @property
    def default(self) -> str:
        return self.backbones[0]

    def backbone_for(self, id_: str | None) -> str:
        """The backbone a domainId names; None means the default one."""
        if id_ is None:
            return self.default
        for backbone in self.backbones:
            if domain_id(backbone) == str(id_).lower():
                return backbone
        raise NotFoundError(f"no domain with id {id_}: GET /domains lists this server's domains", "NotFoundDomain")
