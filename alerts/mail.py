"""The e-mail notifier: each alert as a text-and-HTML message over SMTP.

``security: starttls`` (the default, port 587) upgrades the connection with
STARTTLS before anything else is said and refuses a server that does not
offer it; ``tls`` speaks TLS from the start (port 465); ``none`` is for a
local relay and never carries a password. The certificate is checked against
the system's CAs, or ``ca_file``. The password comes from the environment
variable ``password_env`` names.
"""

from __future__ import annotations

import html
import smtplib
import ssl
from collections.abc import Mapping, Sequence
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from pathlib import Path

from agora.config import NotifierConfig
from alerts.http import DeliveryError, PermanentError
from alerts.records import Alert

__all__ = ["EmailNotifier", "render_email"]


def render_email(alert: Alert, sender: str, to: Sequence[str]) -> EmailMessage:
    """The message for ``alert``: subject ``[Agora critical] <title>``, a text
    part and an HTML alternative, each with the reason and the evidence.

    >>> from datetime import datetime, timezone
    >>> a = Alert("r:x:1", "influencer_negative", "critical", "tw:1", "Giulia is negative", "mean -0.6", (),
    ...           datetime(2025, 6, 1, tzinfo=timezone.utc))
    >>> m = render_email(a, "agora@example.org", ["cm@example.org"])
    >>> m["Subject"], [p.get_content_type() for p in m.iter_parts()]
    ('[Agora critical] Giulia is negative', ['text/plain', 'text/html'])
    """
    when = (alert.event_at or alert.created_at).strftime("%Y-%m-%d %H:%M UTC")
    lines = [alert.title, "", f"Why: {alert.reason}", "",
             f"Severity: {alert.severity}   Rule: {alert.rule}   {alert.subject_kind}: {alert.subject}   When: {when}"]
    if alert.evidence:
        lines += ["", "Messages behind it:"]
        for e in alert.evidence:
            polarity = f" ({e.polarity:+.2f})" if e.polarity is not None else ""
            lines.append(f"- {e.message_id}{polarity}: {e.text if e.text else '(text not kept)'}")
    lines += ["", f"Alert id: {alert.id} (acknowledge with: agora alerts --ack {alert.id})"]

    esc = html.escape
    items = "".join(
        f"<li><code>{esc(e.message_id)}</code>{f' ({e.polarity:+.2f})' if e.polarity is not None else ''}: "
        f"<q>{esc(e.text) if e.text else '<em>text not kept</em>'}</q></li>" for e in alert.evidence)
    body = (f"<html><body><h2>{esc(alert.title)}</h2><p><strong>Why:</strong> {esc(alert.reason)}</p>"
            f"<table><tr><th align=left>Severity</th><td>{esc(alert.severity)}</td></tr>"
            f"<tr><th align=left>Rule</th><td>{esc(alert.rule)}</td></tr>"
            f"<tr><th align=left>{esc(alert.subject_kind)}</th><td><code>{esc(alert.subject)}</code></td></tr>"
            f"<tr><th align=left>When</th><td>{when}</td></tr></table>"
            + (f"<h3>Messages behind it</h3><ul>{items}</ul>" if items else "")
            + f"<p><small>Alert <code>{esc(alert.id)}</code></small></p></body></html>")

    msg = EmailMessage()
    msg["Subject"] = f"[Agora {alert.severity}] {alert.title}"
    msg["From"] = sender
    msg["To"] = ", ".join(to)
    msg["Date"] = formatdate(usegmt=True)
    msg["Message-ID"] = make_msgid(domain=sender.rpartition("@")[2] or None)
    msg["X-Agora-Alert"] = alert.id
    msg.set_content("\n".join(lines) + "\n")
    msg.add_alternative(body, subtype="html")
    return msg


class EmailNotifier:
    """Sends each alert as one e-mail. One connection and one attempt per :meth:`send`."""

    def __init__(self, host: str, sender: str, to: Sequence[str], *, port: int = 587, security: str = "starttls",
                 username: str | None = None, password: str | None = None, ca_file: Path | None = None,
                 name: str = "email", timeout_s: float = 10.0) -> None:
        if username and security == "none":
            raise ValueError("refusing to send an SMTP password without TLS")
        self.name, self.host, self.port, self.security = name, host, port, security
        self.sender, self.to, self.timeout_s = sender, list(to), timeout_s
        self._username, self._password = username, password
        self._tls = ssl.create_default_context(cafile=str(ca_file) if ca_file else None)

    @classmethod
    def from_settings(cls, settings: NotifierConfig, environ: Mapping[str, str]) -> "EmailNotifier":
        from alerts.delivery import env_value

        password = env_value(settings, "password", environ) if settings.password_env else None
        return cls(settings.host or "", settings.sender or "", settings.to, port=settings.port,
                   security=settings.security, username=settings.username, password=password,
                   ca_file=settings.ca_file, name=settings.name or "email", timeout_s=settings.timeout_s)

    def send(self, alert: Alert) -> None:
        msg = render_email(alert, self.sender, self.to)
        try:
            if self.security == "tls":
                smtp: smtplib.SMTP = smtplib.SMTP_SSL(self.host, self.port, timeout=self.timeout_s, context=self._tls)
            else:
                smtp = smtplib.SMTP(self.host, self.port, timeout=self.timeout_s)
            with smtp:
                smtp.ehlo()
                if self.security == "starttls":
                    if not smtp.has_extn("starttls"):
                        raise PermanentError(f"SMTP {self.host}:{self.port} does not offer STARTTLS")
                    smtp.starttls(context=self._tls)
                    smtp.ehlo()
                if self._username:
                    smtp.login(self._username, self._password or "")
                refused = smtp.send_message(msg)
        except smtplib.SMTPAuthenticationError as exc:
            raise PermanentError(f"SMTP {self.host}:{self.port}: login refused ({exc.smtp_code})") from None
        except smtplib.SMTPRecipientsRefused as exc:
            raise PermanentError(f"SMTP {self.host}:{self.port}: every recipient refused: "
                                 f"{', '.join(sorted(exc.recipients))}") from None
        except smtplib.SMTPResponseException as exc:  # 5xx: permanent, 4xx: try again later
            text = f"SMTP {self.host}:{self.port}: {exc.smtp_code} {exc.smtp_error.decode('utf-8', 'replace')[:200]}"
            raise (PermanentError(text) if exc.smtp_code >= 500 else DeliveryError(text)) from None
        except ssl.SSLCertVerificationError as exc:
            raise PermanentError(f"SMTP {self.host}:{self.port}: certificate not trusted: {exc.verify_message}") from None
        except (smtplib.SMTPException, OSError) as exc:  # disconnects, refused connections, timeouts
            raise DeliveryError(f"SMTP {self.host}:{self.port}: {exc or type(exc).__name__}") from None
        if refused:
            # Some recipients got it: retrying would send them a second copy, so record the rest.
            raise PermanentError(f"SMTP {self.host}:{self.port}: refused {', '.join(sorted(refused))}")
