"""The base of every config model, and the name rules its fields share."""

from __future__ import annotations

import re

from pydantic import BaseModel, ConfigDict

_IDENT = r"[A-Za-z_][A-Za-z0-9_$-]*"
IDENT_RE = re.compile(rf"^{_IDENT}$")
QUALIFIED_RE = re.compile(rf"^{_IDENT}(\.{_IDENT}){{0,2}}$")


class Model(BaseModel):
    """Base of every config model: frozen, and unknown keys are errors."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True, defer_build=True)


def _ident(value: str) -> str:
    if not IDENT_RE.match(value):
        raise ValueError(f"{value!r} is not a plain identifier (letters, digits, _)")
    return value


def _qualified(value: str) -> str:
    if not QUALIFIED_RE.match(value):
        raise ValueError(f"{value!r} is not a table name like schema.table (letters, digits, _)")
    return value
