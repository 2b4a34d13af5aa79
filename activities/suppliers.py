"""Telling suppliers: the security contact of each third party whose component an
incident involves gets one e-mail, from facts only (names, versions, digests).

Idempotent per incident and supplier: the timeline event (`supplier.notified`, keyed
`incident:supplier_notified:supplier`) is written after the send, and a retry skips the
suppliers it finds. A crash between the two sends again, with the same Message-ID, so the
receiving side can tell it is the same message.
"""

from __future__ import annotations

import hashlib
import logging
from collections import defaultdict
from collections.abc import Callable
from email.message import EmailMessage

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from activities.actions import failure, in_thread
from integrations.email.smtp import EmailError, SmtpSender
from smokejumper.config import Settings
from smokejumper.contracts.suppliers import NOTIFY_SUPPLIERS
from smokejumper.domain.suppliers import ComponentRef, SupplierNotice, SuppliersTold, SupplierTold
from smokejumper.masking import mask
from smokejumper.store.db import Store
from smokejumper.store.tables import (
    InventoryDataset,
    InventoryEndpoint,
    InventoryModel,
    InventorySupplier,
    TimelineEvent,
)

log = logging.getLogger("smokejumper.suppliers")
EVENT = "supplier.notified"
_TABLES: dict[str, type[InventoryModel] | type[InventoryDataset] | type[InventoryEndpoint]] = {
    "model": InventoryModel,
    "dataset": InventoryDataset,
    "endpoint": InventoryEndpoint,
}


class SupplierActivities:
    def __init__(
        self,
        store: Store,
        settings: Settings,
        send: Callable[[EmailMessage], None] | None = None,
    ) -> None:
        self.store = store
        self.settings = settings
        self._send = send

    def send(self, message: EmailMessage) -> None:
        if self._send is not None:
            self._send(message)
            return
        if self.settings.email is None:
            raise EmailError("no [email] is configured to reach suppliers", retryable=False)
        SmtpSender(self.settings.email).send(message)

    @NOTIFY_SUPPLIERS.implementation
    async def notify_suppliers(self, notice: SupplierNotice) -> SuppliersTold:
        """E-mail each supplier's security contact once; say who was told."""
        try:
            return await in_thread(self._notify, notice)
        except EmailError as exc:
            raise failure(exc) from None

    def _notify(self, notice: SupplierNotice) -> SuppliersTold:
        with self.store.session() as session:
            by_supplier, first_party = _suppliers_of(session, notice.components)
            sent = set(
                session.scalars(
                    select(TimelineEvent.event_key).where(
                        TimelineEvent.event_key.in_([_key(notice, s) for s in by_supplier])
                    )
                )
            )
        if not by_supplier:
            return SuppliersTold(
                first_party=first_party,
                reason="the inventory names no supplier for "
                + (", ".join(first_party) or "these components"),
            )
        told: list[SupplierTold] = []
        failed: list[str] = []
        for (name, contact), components in sorted(by_supplier.items()):
            entry = SupplierTold(supplier=name, contact=contact, components=components)
            key = _key(notice, (name, contact))
            if key not in sent:
                try:
                    self.send(self._message(notice, entry, key))
                except EmailError as exc:
                    failed.append(str(exc))
                    if not exc.retryable:
                        raise
                    continue
                self._record(notice, entry, key)
            told.append(entry)
        if failed:
            # Those already told are recorded: the retry tells only the rest.
            raise EmailError("; ".join(failed))
        return SuppliersTold(told=told, first_party=first_party)

    def _message(self, notice: SupplierNotice, told: SupplierTold, key: str) -> EmailMessage:
        config = self.settings.email
        sender = config.from_address if config else "smokejumper@localhost"
        message = EmailMessage()
        message["From"] = sender
        message["To"] = told.contact
        if config and config.reply_to:
            message["Reply-To"] = config.reply_to
        message["Subject"] = f"[Security incident {notice.ref}] {', '.join(told.components)}"
        domain = sender.rsplit("@", 1)[-1]
        message["Message-ID"] = f"<{hashlib.sha256(key.encode()).hexdigest()[:32]}@{domain}>"
        lines = [
            f"Security team of {told.supplier},",
            "",
            f"We are responding to a security incident ({notice.ref}) that involves "
            "components we use from you:",
            *(f"  - {component}" for component in told.components),
            "",
            f"What we found: {mask(notice.finding)}",
            "",
            f"What we ask of you: {mask(notice.asked)}",
            "",
            "This message holds no customer data, prompts or model output. Please reply "
            f"quoting {notice.ref}.",
        ]
        message.set_content("\n".join(lines))
        return message

    def _record(self, notice: SupplierNotice, told: SupplierTold, key: str) -> None:
        try:
            with self.store.transaction() as session:
                session.add(
                    TimelineEvent(
                        incident_id=notice.incident_id,
                        kind=EVENT,
                        actor=f"activity:{NOTIFY_SUPPLIERS.name}",
                        message=f"Told {told.supplier}'s security contact about "
                        f"{', '.join(told.components)} by e-mail",
                        # `to` is shown to responders as it is, like a notification's.
                        data={"supplier": told.supplier, "to": told.contact},
                        event_key=key,
                    )
                )
        except IntegrityError:
            return  # a concurrent attempt recorded it
        log.info("told supplier %s about incident %s", told.supplier, notice.ref)


def _key(notice: SupplierNotice, supplier: tuple[str, str]) -> str:
    return f"{notice.incident_id}:supplier_notified:{supplier[0]}"


def _suppliers_of(
    session: Session, components: list[ComponentRef]
) -> tuple[dict[tuple[str, str], list[str]], list[str]]:
    """(supplier, contact) → its components; and the components without a supplier."""
    suppliers = {s.name: s for s in session.scalars(select(InventorySupplier))}
    grouped: dict[tuple[str, str], list[str]] = defaultdict(list)
    first_party: list[str] = []
    for component in components:
        table = _TABLES[component.type]
        supplier_name = session.scalar(select(table.supplier).where(table.name == component.name))
        supplier = suppliers.get(supplier_name) if supplier_name else None
        if supplier is None:
            first_party.append(str(component))
            continue
        entry = grouped[(supplier.name, supplier.security_contact)]
        if str(component) not in entry:
            entry.append(str(component))
    return dict(grouped), first_party
