"""Sending mail through the admin-configured SMTP server (stdlib ``smtplib`` in a worker thread)."""

from __future__ import annotations

import asyncio
import logging
import smtplib
import ssl
from email.message import EmailMessage
from email.utils import formataddr

from chatnio_host.auth.settings import MailSettings
from chatnio_host.errors import APIError

__all__ = ["MailNotConfigured", "MailSendFailed", "code_message", "send_mail"]

logger = logging.getLogger(__name__)


class MailNotConfigured(APIError):
    """The site has no SMTP server configured."""

    status = 503
    type = "service_unavailable_error"
    default_code = "mail_not_configured"


class MailSendFailed(APIError):
    """The SMTP server refused or could not be reached."""

    status = 502
    type = "upstream_error"
    default_code = "mail_send_failed"


_PURPOSE_SUBJECTS = {
    "register": ("Your sign-up code", "注册验证码"),
    "reset": ("Your password reset code", "重置密码验证码"),
}


def code_message(settings: MailSettings, site_name: str, to: str, purpose: str, code: str, ttl_seconds: int) -> EmailMessage:
    """Build the mail that carries a verification code, in English and Simplified Chinese."""
    english, chinese = _PURPOSE_SUBJECTS.get(purpose, ("Your verification code", "验证码"))
    minutes = max(1, ttl_seconds // 60)
    message = EmailMessage()
    message["Subject"] = f"{site_name} | {english} / {chinese}"
    message["From"] = formataddr((settings.sender_name or site_name, settings.sender))
    message["To"] = to
    message.set_content(
        f"Your code is {code}. It is valid for {minutes} minutes and works once.\n"
        f"If you did not request it, ignore this mail.\n\n"
        f"您的验证码是 {code}，{minutes} 分钟内有效，仅可使用一次。\n"
        f"如果这不是您本人的操作，请忽略此邮件。\n"
    )
    return message


def _send_blocking(settings: MailSettings, message: EmailMessage) -> None:
    context = ssl.create_default_context()
    client: smtplib.SMTP
    if settings.security == "ssl":
        client = smtplib.SMTP_SSL(settings.host, settings.port, timeout=settings.timeout_seconds, context=context)
    else:
        client = smtplib.SMTP(settings.host, settings.port, timeout=settings.timeout_seconds)
    with client:
        if settings.security == "starttls":
            client.starttls(context=context)
        if settings.username:
            client.login(settings.username, settings.password)
        client.send_message(message)


async def send_mail(settings: MailSettings, message: EmailMessage) -> None:
    """Send ``message``; raise ``MailNotConfigured`` or ``MailSendFailed``."""
    if not settings.configured:
        raise MailNotConfigured("Email is not configured on this site. Ask an administrator to set up SMTP.")
    try:
        await asyncio.to_thread(_send_blocking, settings, message)
    except (smtplib.SMTPException, OSError) as exc:
        logger.error(
            "sending mail to %s through %s:%s failed: %s", message["To"], settings.host, settings.port, exc
        )
        raise MailSendFailed("The mail server did not accept the message. Try again later.") from exc
    logger.info("sent mail %r to %s through %s:%s", message["Subject"], message["To"], settings.host, settings.port)
