"""Suppliers: tell the third parties whose components are involved, by e-mail to the
security contact the inventory records."""

from __future__ import annotations

from smokejumper.contracts.base import Contract, Rehearsal
from smokejumper.domain.suppliers import SupplierNotice, SuppliersTold, SupplierTold


def _rehearsed(notice: SupplierNotice, _: Rehearsal) -> SuppliersTold:
    # A dry run cannot read the inventory: it rehearses one supplier for every component.
    return SuppliersTold(
        told=[
            SupplierTold(
                supplier="(the inventory's supplier)",
                contact="(its security contact)",
                components=[str(c) for c in notice.components],
            )
        ]
        if notice.components
        else []
    )


NOTIFY_SUPPLIERS = Contract(
    "notify_suppliers",
    SupplierNotice,
    SuppliersTold,
    rehearse=_rehearsed,
    description="E-mail the security contact of each supplier of the components, once.",
)
