"""Installation-wide settings (API keys and the like), kept in the database so every server process shares them."""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy.exc import IntegrityError

from sightline.service.workspace import Workspace
from sightline.store import Setting


def get_setting(ws: Workspace, key: str) -> str | None:
    with ws.session() as session:
        row = session.get(Setting, key)
        return row.value if row is not None else None


def set_setting(ws: Workspace, key: str, value: str) -> None:
    with ws.session() as session:
        row = session.get(Setting, key)
        if row is None:
            session.add(Setting(key=key, value=value))
        else:
            row.value = value


def get_or_create_setting(ws: Workspace, key: str, make: Callable[[], str]) -> str:
    """The stored value, or `make()` stored now. When two processes race, the first one's value wins."""
    value = get_setting(ws, key)
    if value is not None:
        return value
    try:
        with ws.session() as session:
            session.add(Setting(key=key, value=make()))
    except IntegrityError:
        pass  # another process created it between our read and our write
    value = get_setting(ws, key)
    assert value is not None
    return value
