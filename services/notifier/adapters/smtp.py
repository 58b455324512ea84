"""E-mail delivery over SMTP (aiosmtplib), classified for the retry policy."""

from __future__ import annotations

import asyncio
from email.message import EmailMessage
from email.utils import format_datetime

import aiosmtplib

from services.notifier.domain.model import AttemptResult, ClaimedDelivery, Outcome
from services.notifier.domain.signature import EVENT_TYPE_HEADER
from services.notifier.settings import NotifierSettings
from shared.clock import Clock

MESSAGE_ID_DOMAIN = "notifier.jkn-claims"


def build_message(delivery: ClaimedDelivery, sender: str, clock: Clock) -> EmailMessage:
    """The e-mail of a delivery; its Message-ID is stable so a resent copy is recognisable."""
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = delivery.target
    msg["Subject"] = delivery.subject
    msg["Date"] = format_datetime(clock.now())
    msg["Message-ID"] = f"<{delivery.event_id}.{delivery.subscription_id}@{MESSAGE_ID_DOMAIN}>"
    msg[EVENT_TYPE_HEADER] = delivery.event_type
    msg["X-JKN-Event-Id"] = str(delivery.event_id)
    if delivery.claim_id:
        msg["X-JKN-Claim-Id"] = delivery.claim_id
    msg.set_content(delivery.text)
    return msg


def _classify(code: int, message: str) -> AttemptResult:
    """SMTP 4xx is temporary, 5xx permanent."""
    outcome: Outcome = "retry" if 400 <= code < 500 else "failed"
    return AttemptResult(outcome, code, f"SMTP {code}: {' '.join(message.split())}"[:500])


class SmtpSender:
    """Sends a delivery's text to its subscription's address through the configured SMTP server."""

    def __init__(self, settings: NotifierSettings, clock: Clock) -> None:
        self._s = settings
        self._clock = clock

    async def __call__(self, delivery: ClaimedDelivery) -> AttemptResult:
        """One attempt; never raises for what the server or the network did."""
        s = self._s
        msg = build_message(delivery, s.smtp_from, self._clock)
        start_tls = {"auto": None, "starttls": True, "tls": False, "none": False}[s.smtp_security]
        try:
            async with asyncio.timeout(s.smtp_timeout_s):  # the whole conversation, not each command
                await aiosmtplib.send(
                    msg,
                    hostname=s.smtp_host,
                    port=s.smtp_port,
                    username=s.smtp_username or None,
                    password=s.smtp_password.get_secret_value() or None,
                    use_tls=s.smtp_security == "tls",
                    start_tls=start_tls,
                    timeout=s.smtp_timeout_s,
                    local_hostname=s.smtp_local_hostname,
                )
        except aiosmtplib.SMTPRecipientsRefused as exc:
            first = exc.recipients[0]
            return _classify(first.code, first.message)
        except aiosmtplib.SMTPResponseException as exc:
            return _classify(exc.code, exc.message)
        except aiosmtplib.SMTPNotSupported as exc:
            return AttemptResult("failed", error=f"SMTP: {exc}")
        except (aiosmtplib.SMTPException, OSError, TimeoutError) as exc:
            return AttemptResult("retry", error=f"{type(exc).__name__}: {exc}"[:500])
        return AttemptResult("delivered", 250)
