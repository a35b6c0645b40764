"""Email notifications over SMTP with STARTTLS (the WhatsApp fallback and the daily summary).

smtplib is blocking: the dispatcher runs :meth:`EmailSender.send` in a worker
thread. The Message-ID is derived from the idempotency key, so a resend after a
crash carries the same Message-ID (mail clients show it once); SMTP itself has
no idempotency, so the relay may still deliver it twice.
"""

from __future__ import annotations

import smtplib
import ssl
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from typing import Any

from centralino.delivery.errors import MissingSecret, SendError, SendResult
from centralino.delivery.settings import SmtpSettings


def lead_subject(lead: dict[str, Any]) -> str:
    who = lead.get("name") or lead.get("phone") or "nuovo contatto"
    what = " ".join(
        x for x in (lead.get("request_type_it"), lead.get("property_type"), lead.get("zone")) if x
    )
    score = lead.get("score")
    return (
        f"Nuovo contatto: {who}"
        + (f" – {what}" if what else "")
        + (f" (punteggio {score})" if score is not None else "")
    )


def lead_body(lead: dict[str, Any], reason: str = "") -> str:
    intro = "La receptionist virtuale ha raccolto un nuovo contatto."
    if reason == "whatsapp_failed":
        intro += " (Inviato via email perché il messaggio WhatsApp non è stato consegnato.)"
    link = lead.get("call_link") or ""
    return (
        f"{intro}\n\n{lead.get('summary', '')}\n\n"
        + (f"Ascolta la chiamata e leggi la trascrizione: {link}\n\n" if link else "")
        + "— Centralino\n"
    )


def _message_id(idempotency_key: str) -> str:
    safe = "".join(c if c.isalnum() or c in "-._" else "-" for c in idempotency_key)
    return f"<{safe}@centralino>"


class EmailSender:
    def __init__(self, settings: SmtpSettings) -> None:
        self.settings = settings

    def build(
        self, recipients: list[str], payload: dict[str, Any], idempotency_key: str
    ) -> EmailMessage:
        msg = EmailMessage()
        if payload.get("subject"):
            subject, body = str(payload["subject"]), str(payload.get("body", ""))
        else:
            lead = payload.get("lead", {})
            subject, body = lead_subject(lead), lead_body(lead, str(payload.get("reason", "")))
        msg["Subject"] = subject
        msg["From"] = self.settings.sender
        msg["To"] = ", ".join(recipients)
        msg["Date"] = formatdate(localtime=False)
        msg["Message-ID"] = _message_id(idempotency_key) if idempotency_key else make_msgid()
        msg["X-Centralino-Idempotency-Key"] = idempotency_key
        msg.set_content(body)
        return msg

    def send(
        self, recipients: list[str], payload: dict[str, Any], idempotency_key: str
    ) -> SendResult:
        """Blocking: call from a worker thread."""
        s = self.settings
        if not s.host or not s.sender:
            raise MissingSecret(
                "Email: SMTP non configurato: impostare smtp.host e smtp.sender "
                "(variabili d'ambiente CENTRALINO_SMTP__HOST, CENTRALINO_SMTP__SENDER)"
            )
        if s.username and not s.password:
            raise MissingSecret(
                "Email: manca il segreto smtp.password "
                "(variabile d'ambiente CENTRALINO_SMTP__PASSWORD)"
            )
        if not recipients:
            raise SendError("Email: nessun destinatario", retryable=False)
        msg = self.build(recipients, payload, idempotency_key)
        try:
            with smtplib.SMTP(s.host, s.port, timeout=s.timeout_s) as smtp:
                smtp.ehlo()
                if s.starttls:
                    context = ssl.create_default_context(
                        cafile=str(s.ca_file) if s.ca_file else None
                    )
                    smtp.starttls(context=context)
                    smtp.ehlo()
                if s.username:
                    smtp.login(s.username, s.password)
                refused = smtp.send_message(msg, from_addr=s.sender, to_addrs=recipients)
        except smtplib.SMTPNotSupportedError as exc:
            raise SendError(
                f"SMTP: il server non supporta STARTTLS/AUTH ({exc})", retryable=False
            ) from exc
        except smtplib.SMTPAuthenticationError as exc:
            raise SendError(
                f"SMTP {exc.smtp_code}: {_text(exc.smtp_error)}",
                retryable=False,
                status=exc.smtp_code,
            ) from exc
        except smtplib.SMTPRecipientsRefused as exc:
            codes = [code for code, _ in exc.recipients.values()]
            detail = "; ".join(
                f"{rcpt}: {code} {_text(err)}" for rcpt, (code, err) in exc.recipients.items()
            )
            raise SendError(
                f"SMTP destinatari rifiutati: {detail}",
                retryable=any(400 <= c < 500 for c in codes),
            ) from exc
        except smtplib.SMTPResponseException as exc:
            raise SendError(
                f"SMTP {exc.smtp_code}: {_text(exc.smtp_error)}",
                retryable=400 <= exc.smtp_code < 500 or exc.smtp_code == -1,
                status=exc.smtp_code,
            ) from exc
        except ssl.SSLError as exc:
            raise SendError(f"SMTP TLS: {exc}", retryable=False) from exc
        except (smtplib.SMTPException, OSError) as exc:
            raise SendError(
                f"SMTP: connessione non riuscita ({type(exc).__name__}: {exc})", retryable=True
            ) from exc
        if refused:
            # Some recipients accepted: the message went out; the refusals are logged in the row.
            return SendResult(
                external_id=str(msg["Message-ID"]) + f" (rifiutati: {', '.join(refused)})"
            )
        return SendResult(external_id=str(msg["Message-ID"]))


def _text(raw: bytes | str) -> str:
    return raw.decode("utf-8", "replace") if isinstance(raw, bytes) else str(raw)
