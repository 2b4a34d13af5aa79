"""Sending e-mail through the configured SMTP server (STARTTLS, TLS or plain relay).

Errors say whether a retry can help: a refused login, sender or recipient will be refused
again; a connection that failed or a 4xx reply may pass later. Messages never quote the
password or the body.
"""

from __future__ import annotations

import smtplib
import ssl
from email.message import EmailMessage

from smokejumper.settings.email import EmailSettings


class EmailError(Exception):
    def __init__(self, message: str, *, retryable: bool = True) -> None:
        super().__init__(message)
        self.retryable = retryable


class SmtpSender:
    name = "smtp"

    def __init__(self, settings: EmailSettings) -> None:
        self.settings = settings

    def send(self, message: EmailMessage) -> None:
        config = self.settings
        where = f"SMTP {config.host}:{config.port}"
        try:
            if config.security == "tls":
                client: smtplib.SMTP = smtplib.SMTP_SSL(
                    config.host,
                    config.port,
                    timeout=config.timeout_seconds,
                    context=ssl.create_default_context(),
                )
            else:
                client = smtplib.SMTP(config.host, config.port, timeout=config.timeout_seconds)
            with client:
                if config.security == "starttls":
                    client.starttls(context=ssl.create_default_context())
                if config.username and config.password:
                    client.login(config.username, config.password.get_secret_value())
                client.send_message(message)
        except smtplib.SMTPAuthenticationError:
            raise EmailError(
                f"{where}: login refused for {config.username}", retryable=False
            ) from None
        except smtplib.SMTPRecipientsRefused as exc:
            refused = ", ".join(sorted(exc.recipients))
            raise EmailError(f"{where}: recipient refused ({refused})", retryable=False) from None
        except smtplib.SMTPSenderRefused as exc:
            raise EmailError(
                f"{where}: sender {config.from_address} refused ({exc.smtp_code})",
                retryable=exc.smtp_code < 500,
            ) from None
        except smtplib.SMTPNotSupportedError:
            raise EmailError(
                f"{where}: the server does not offer STARTTLS (set email.security)",
                retryable=False,
            ) from None
        except smtplib.SMTPResponseException as exc:
            raise EmailError(
                f"{where}: answered {exc.smtp_code}", retryable=exc.smtp_code < 500
            ) from None
        except (OSError, smtplib.SMTPException) as exc:
            raise EmailError(f"{where}: cannot deliver ({type(exc).__name__})") from None
