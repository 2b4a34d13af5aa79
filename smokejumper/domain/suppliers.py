"""Telling a supplier: which components of an incident come from third parties, and what
was sent to whose security contact (never the leaked data)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

ComponentType = Literal["model", "dataset", "endpoint"]


class ComponentRef(BaseModel):
    type: ComponentType
    name: str = Field(min_length=1, max_length=200)

    def __str__(self) -> str:
        return f"{self.type} {self.name}"


class SupplierNotice(BaseModel):
    """Tell the suppliers of `components` what happened. `finding` and `asked` are
    written by the playbook from facts (names, versions, digests), never from evidence."""

    incident_id: int
    ref: str
    components: list[ComponentRef] = Field(max_length=50)
    finding: str = Field(min_length=1, max_length=2_000)
    asked: str = Field(min_length=1, max_length=1_000)


class SupplierTold(BaseModel):
    supplier: str
    contact: str
    components: list[str]


class SuppliersTold(BaseModel):
    told: list[SupplierTold] = Field(default_factory=list)
    first_party: list[str] = Field(
        default_factory=list, description="Components the inventory names no supplier for."
    )
    reason: str = Field(default="", description="Why nobody was told, when nobody was.")
