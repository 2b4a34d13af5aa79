"""What an incident event says by e-mail, and to whom: notices to the addresses of the
incident's severity, approval requests with Approve/Deny links to each approver.

Every value from the incident or the playbook is masked as in Slack (smokejumper.masking):
keys keep their prefix and last four characters, e-mail addresses and phone numbers are
shortened. The raw prompt and response are never mailed; the console link leads to them.
Each message is plain text with an HTML alternative whose values are escaped.
"""

from __future__ import annotations

import hashlib
import html
import re
import time
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.utils import formatdate
from urllib.parse import quote

from sqlalchemy import select
from sqlalchemy.orm import Session

from smokejumper.config import Settings
from smokejumper.domain.incidents import TimelineEntry
from smokejumper.masking import mask
from smokejumper.security.approval_links import issue
from smokejumper.settings.email import EmailSettings
from smokejumper.store.tables import Incident, TimelineEvent

# C0 and C1 controls and the Unicode line separators: `str.splitlines` breaks on all of
# them, and a header value that splits in two is refused (the mail would never be sent).
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]+")
_SUBJECT_MAX = 180


@dataclass
class Mail:
    """One message to send; `key` is recorded once it is sent, so it is sent once."""

    key: str
    to: list[str]
    subject: str
    intro: str
    facts: list[tuple[str, str]] = field(default_factory=list)
    links: list[tuple[str, str]] = field(default_factory=list)
    footer: str = ""
    opening: bool = False


def one_line(text: str, limit: int = _SUBJECT_MAX) -> str:
    """Header-safe: no line breaks or control characters, bounded."""
    flat = _CONTROL.sub(" ", text).strip()
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def people(entries: list[str], groups: dict[str, list[str]]) -> list[str]:
    """Names behind `group:<name>` entries and plain names; an unknown group names nobody
    here (the playbook's own resolution already failed its step for that)."""
    found: set[str] = set()
    for entry in entries:
        if entry.startswith("group:"):
            found.update(groups.get(entry.removeprefix("group:"), []))
        elif entry:
            found.add(entry)
    return sorted(found)


def console_url(settings: Settings, ref: str) -> str:
    return f"{settings.api_url.rstrip('/')}/incidents/{quote(ref, safe='')}"


class Notices:
    """Builds the mails of one event from the store (masking every shown value)."""

    def __init__(self, settings: Settings, link_key: bytes) -> None:
        assert settings.email is not None
        self.settings = settings
        self.email: EmailSettings = settings.email
        self.link_key = link_key

    def mails(self, session: Session, entry: TimelineEntry, key: str) -> list[Mail]:
        incident = session.get(Incident, entry.incident_id)
        if incident is None:
            raise ValueError(f"incident {entry.incident_id} does not exist")
        ref = incident.ref or str(incident.id)
        notify = list(self.email.notify.get(incident.severity, []))  # type: ignore[call-overload]
        title = one_line(mask(incident.title))
        about = [
            ("Incident", ref),
            ("Severity", incident.severity.upper()),
            ("Kind", incident.kind),
            ("Title", mask(incident.title)),
        ]
        page = ("Open the incident in the console", console_url(self.settings, ref))
        step = entry.step or ""
        if entry.kind == "playbook.started":
            facts = [
                *about,
                ("Playbook", incident.playbook or "—"),
                ("Affected", mask(_affected(incident)) or "—"),
                ("OWASP / ATLAS", ", ".join([*(incident.owasp or []), *(incident.atlas or [])])),
            ]
            return [
                Mail(
                    key,
                    notify,
                    f"[{ref}] {incident.severity.upper()} {title}",
                    "A new incident was opened; its playbook is responding.",
                    facts,
                    [page],
                    opening=True,
                )
            ]
        if entry.kind == "approval.requested":
            return self._requested(session, entry, key, ref, title, about, page, notify)
        if entry.kind.startswith("approval."):
            asked = self._asked(session, entry.incident_id, step)
            outcome = entry.kind.removeprefix("approval.").replace("_", " ")
            return [
                Mail(
                    key,
                    sorted(set(notify) | set(asked)),
                    f"[{ref}] {step}: {outcome} — {title}",
                    mask(entry.message),
                    [*about, ("Step", mask(step)), ("Outcome", outcome)],
                    [page],
                    footer="An Approve/Deny link for this step no longer decides anything.",
                )
            ]
        status = str(entry.data.get("to") or "")
        return [
            Mail(
                key,
                notify,
                f"[{ref}] {status} — {title}",
                mask(entry.message),
                [*about, ("Status", status)],
                [page],
            )
        ]

    def _requested(
        self,
        session: Session,
        entry: TimelineEntry,
        key: str,
        ref: str,
        title: str,
        about: list[tuple[str, str]],
        page: tuple[str, str],
        notify: list[str],
    ) -> list[Mail]:
        step = entry.step or ""
        question = entry.message.split(": ", 1)[-1]
        approvers = [a.strip() for a in str(entry.data.get("approvers") or "").split(",")]
        names = people(approvers, self.settings.approvers)
        handoff = bool(entry.data.get("choices"))
        facts = [
            *about,
            ("Step", mask(step)),
            ("Question", mask(question)),
            ("Risk", mask(str(entry.data.get("risk") or "")) or "—"),
            ("Approvers", mask(", ".join(names)) or "—"),
            ("Approvals needed", str(entry.data.get("min_approvals") or 1)),
        ]
        subject = f"[{ref}] {'Decision' if handoff else 'Approval'} needed: {step} — {title}"
        mails = []
        if notify:
            mails.append(
                Mail(
                    f"{key}:notice",
                    notify,
                    subject,
                    "The playbook asks its approvers to decide a step.",
                    facts,
                    [page],
                )
            )
        expires = int(time.time() + self.email.link_hours * 3600)
        for name in names:
            address = self.email.users.get(name)
            if address is None:
                continue
            links = [page]
            footer = "Answer it in the console: this step is not decided by e-mail."
            if not handoff:
                base = f"{console_url(self.settings, ref)}/approvals/{quote(step, safe='')}"
                token = issue(self.link_key, ref, step, name, entry.event_key, expires)
                links = [
                    ("Approve", f"{base}?decision=approve&t={token}"),
                    ("Deny", f"{base}?decision=deny&t={token}"),
                    page,
                ]
                footer = (
                    "The links do not decide by themselves: each opens the console, where "
                    "you sign in and confirm. They are yours alone, work once, and expire "
                    f"{formatdate(expires, usegmt=True)}."
                )
            mails.append(
                Mail(
                    f"{key}:ask:{name}",
                    [address],
                    subject,
                    f"{mask(name)}, you are asked to decide this step.",
                    facts,
                    links,
                    footer=footer,
                )
            )
        return mails

    def _asked(self, session: Session, incident_id: int, step: str) -> list[str]:
        """Addresses the step's approval request went to."""
        requested = session.scalars(
            select(TimelineEvent)
            .where(
                TimelineEvent.incident_id == incident_id,
                TimelineEvent.kind == "approval.requested",
                TimelineEvent.step == step,
            )
            .order_by(TimelineEvent.id.desc())
        ).first()
        if requested is None:
            return []
        approvers = [a.strip() for a in str(requested.data.get("approvers") or "").split(",")]
        names = people(approvers, self.settings.approvers)
        return [self.email.users[name] for name in names if name in self.email.users]


def _affected(incident: Incident) -> str:
    values = {**(incident.target or {}), **(incident.principal or {})}
    return "; ".join(f"{name} {value}" for name, value in values.items() if value)


def thread_root(incident: Incident, domain: str) -> str:
    """The Message-ID every mail of the incident refers to (the opening notice's own)."""
    digest = hashlib.sha256(f"{incident.workflow_id}\x00{incident.id}".encode()).hexdigest()
    return f"<incident.{digest[:32]}@{domain}>"


def compose(mail: Mail, email: EmailSettings, incident: Incident) -> EmailMessage:
    """The message: plain text and escaped HTML, threaded under the incident."""
    domain = email.from_address.rsplit("@", 1)[-1]
    root = thread_root(incident, domain)
    message = EmailMessage()
    message["From"] = email.from_address
    message["To"] = ", ".join(mail.to)
    if email.reply_to:
        message["Reply-To"] = email.reply_to
    message["Subject"] = one_line(mail.subject)
    message["Date"] = formatdate(usegmt=True)
    if mail.opening:
        message["Message-ID"] = root
    else:
        digest = hashlib.sha256(mail.key.encode()).hexdigest()[:32]
        message["Message-ID"] = f"<{digest}@{domain}>"
        message["In-Reply-To"] = root
        message["References"] = root
    message["Auto-Submitted"] = "auto-generated"
    message.set_content(_text(mail))
    message.add_alternative(_html(mail), subtype="html")
    return message


def _text(mail: Mail) -> str:
    width = max((len(label) for label, _ in mail.facts), default=0)
    lines = [mail.intro, ""]
    lines += [
        f"{label + ':':<{width + 1}} {_CONTROL.sub(' ', value)}" for label, value in mail.facts
    ]
    lines.append("")
    lines += [f"{label}: {url}" for label, url in mail.links]
    if mail.footer:
        lines += ["", mail.footer]
    return "\n".join(lines) + "\n"


def _html(mail: Mail) -> str:
    e = html.escape
    rows = "".join(
        f"<tr><th align='left'>{e(label)}</th><td>{e(value)}</td></tr>"
        for label, value in mail.facts
    )
    links = " &nbsp; ".join(f'<a href="{e(url)}">{e(label)}</a>' for label, url in mail.links)
    footer = f"<p><small>{e(mail.footer)}</small></p>" if mail.footer else ""
    return (
        "<!doctype html><html><body>"
        f"<p>{e(mail.intro)}</p><table>{rows}</table><p>{links}</p>{footer}"
        "</body></html>\n"
    )
