"""Hide upstream endpoints and secrets in text that users or logs may see.

``sanitize_text`` replaces a channel's endpoint URL, and its bare host, with ``channel://<id>``,
and masks the channel's key and every value after ``key=``, ``Authorization``, ``x-api-key``,
``api-key`` and ``x-goog-api-key`` to at most its last four characters (``****abcd``; values of
eight characters or fewer become ``****``). OpenAI-style ``sk-`` tokens are masked wherever
they appear.

``install_log_masking`` makes the same replacements in every log record of the ``chatnio*``,
``aiohttp``, ``httpx`` and ``uvicorn`` loggers, using the endpoints and keys the upstream client has used recently
(``remember``) plus the generic patterns.
"""

from __future__ import annotations

import ipaddress
import logging
import re
import threading
import traceback
from collections import OrderedDict
from dataclasses import dataclass
from urllib.parse import urlsplit

__all__ = [
    "MASKED_LOGGER_PREFIXES",
    "SecretMemory",
    "install_log_masking",
    "mask_secret",
    "remember",
    "sanitize_text",
]

MASKED_LOGGER_PREFIXES: tuple[str, ...] = ("chatnio", "aiohttp", "httpx", "uvicorn")
"""Log records from loggers whose names start with these are masked."""

MIN_SECRET_LENGTH = 4
"""Shorter keys are not replaced inside text, because they would match ordinary words."""

_HEADER_VALUE = re.compile(
    r"""(?ix)
    (?P<name>\b(?:authorization|proxy-authorization|x-api-key|x-goog-api-key|api-key|api_key|apikey)
        ["']?\s*[:=]\s*["']?)
    (?P<scheme>(?:bearer|basic|token)\s+)?
    (?P<value>[^\s"',;&<>]+)
    """
)
_QUERY_KEY = re.compile(r"""(?i)(?P<name>(?<![\w-])(?:key|api[_-]?key|access_token)=)(?P<value>[^&\s"'<>,;#]+)""")
_SK_TOKEN = re.compile(r"\b(?P<value>sk-[A-Za-z0-9_\-]{12,})")


def mask_secret(value: str) -> str:
    """Return ``value`` reduced to at most its last four characters, such as ``****abcd``."""
    if value.startswith("****"):
        return value
    if len(value) <= 8:
        return "****"
    return "****" + value[-4:]


@dataclass(frozen=True)
class _Known:
    channel_id: int
    endpoint: str
    host: str
    key: str
    proxy: str
    key_parts: tuple[str, ...]
    host_lower: str
    proxy_host_lower: str


def _endpoint_forms(endpoint: str) -> tuple[str, str]:
    """Return the endpoint without a trailing slash, and its host (``host:port`` when given)."""
    base = endpoint.strip().rstrip("/")
    try:
        parts = urlsplit(base)
        host = parts.netloc.rpartition("@")[2] if parts.netloc else ""
    except ValueError:
        host = ""
    return base, host


def _is_ip_literal(host: str) -> bool:
    try:
        ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return False
    return True


def _replace_endpoint(text: str, endpoint: str, replacement: str, *, bare_ip: bool = True) -> str:
    """Replace ``endpoint``, other URLs on its host, and the bare host name.

    With ``bare_ip`` False a bare IP address is left alone (log lines name client addresses too);
    URLs and ``ip:port`` forms on that address are still replaced.
    """
    base, host = _endpoint_forms(endpoint)
    if base and len(base) >= MIN_SECRET_LENGTH:
        text = re.sub(re.escape(base), replacement, text, flags=re.IGNORECASE)
    if host and len(host) >= MIN_SECRET_LENGTH:
        # Any other URL on the same host (another path, another scheme) goes first, then the bare host.
        pattern = r"(?:[a-z][a-z0-9+.\-]*://)?" + re.escape(host) + r"(?::\d+)?(?:/[^\s\"'<>]*)?"
        text = re.sub(pattern, replacement, text, flags=re.IGNORECASE)
        bare = host.partition(":")[0] if host.count(":") == 1 else host
        if not bare_ip and _is_ip_literal(bare):
            return text
        if bare != host and len(bare) >= MIN_SECRET_LENGTH:
            text = re.sub(r"(?<![\w.-])" + re.escape(bare) + r"(?![\w-])", replacement, text, flags=re.IGNORECASE)
    return text


def _mask_keys(text: str, key: str) -> str:
    for secret in _key_parts(key):
        text = text.replace(secret, mask_secret(secret))
    return text


def _key_parts(key: str) -> list[str]:
    """Return the key and, for multi-part keys like ``app|secret``, each part; longest first."""
    key = key.strip()
    parts = {key} | {part.strip() for part in key.split("|")}
    return sorted((part for part in parts if len(part) >= MIN_SECRET_LENGTH), key=len, reverse=True)


def _mask_patterns(text: str) -> str:
    text = _HEADER_VALUE.sub(lambda m: m.group("name") + (m.group("scheme") or "") + mask_secret(m.group("value")),
                             text)
    text = _QUERY_KEY.sub(lambda m: m.group("name") + mask_secret(m.group("value")), text)
    return _SK_TOKEN.sub(lambda m: mask_secret(m.group("value")), text)


def sanitize_text(text: str, *, channel_id: int | None, endpoint: str = "", key: str = "",
                  proxy: str | None = None) -> str:
    """Replace the endpoint with ``channel://<id>`` and mask keys and credential values in ``text``."""
    if not text:
        return text
    replacement = f"channel://{channel_id}" if channel_id is not None else "channel://upstream"
    if key:
        text = _mask_keys(text, key)
    if proxy:
        text = _replace_endpoint(text, proxy, f"proxy://{channel_id}")
    if endpoint:
        text = _replace_endpoint(text, endpoint, replacement)
    return _mask_patterns(text)


class SecretMemory:
    """The endpoints and keys used recently, so log lines can be masked without a target at hand.

    It keeps at most ``capacity`` entries and drops the least recently used first. Each log line
    is checked against every entry (0.3 to 0.4 microseconds each, measured on a 2-CPU EPYC), so the capacity
    stays small: a channel's log lines follow its use closely, and the generic patterns still
    mask ``sk-`` tokens and credential values of channels no longer remembered.
    """

    def __init__(self, capacity: int = 128) -> None:
        self.capacity = capacity
        self._entries: OrderedDict[tuple[int, str, str, str], _Known] = OrderedDict()
        self._lock = threading.Lock()

    def remember(self, channel_id: int, endpoint: str, key: str, proxy: str | None = None) -> None:
        """Record one channel's endpoint, key and proxy."""
        identity = (channel_id, endpoint, key, proxy or "")
        with self._lock:
            if identity in self._entries:
                self._entries.move_to_end(identity)
                return
            _, host = _endpoint_forms(endpoint)
            proxy_host = _endpoint_forms(proxy)[1] if proxy else ""
            self._entries[identity] = _Known(channel_id, endpoint, host, key, proxy or "", tuple(_key_parts(key)),
                                             host.lower(), proxy_host.lower())
            while len(self._entries) > self.capacity:
                self._entries.popitem(last=False)

    def sanitize(self, text: str) -> str:
        """Apply every remembered channel's replacements and the generic patterns to ``text``."""
        with self._lock:
            known = list(self._entries.values())
        lowered = text.lower()
        for entry in known:
            if any(part in text for part in entry.key_parts):
                text = _mask_keys(text, entry.key)
                lowered = text.lower()
            if entry.proxy_host_lower and entry.proxy_host_lower in lowered:
                text = _replace_endpoint(text, entry.proxy, f"proxy://{entry.channel_id}", bare_ip=False)
                lowered = text.lower()
            if entry.host_lower and entry.host_lower in lowered:
                text = _replace_endpoint(text, entry.endpoint, f"channel://{entry.channel_id}", bare_ip=False)
                lowered = text.lower()
        return _mask_patterns(text)


MEMORY = SecretMemory()


def remember(channel_id: int, endpoint: str, key: str, proxy: str | None = None) -> None:
    """Record a channel's endpoint and key in the process-wide memory used by log masking."""
    MEMORY.remember(channel_id, endpoint, key, proxy)


_installed = False
_install_lock = threading.Lock()


def install_log_masking(prefixes: tuple[str, ...] = MASKED_LOGGER_PREFIXES) -> None:
    """Mask records of the given loggers as they are created, whatever handler prints them.

    A record factory is used rather than a filter, because filters on a logger do not apply to
    its child loggers and handlers differ between the server, the CLI and pytest.
    """
    global _installed
    with _install_lock:
        if _installed:
            return
        previous = logging.getLogRecordFactory()

        def factory(*args: object, **kwargs: object) -> logging.LogRecord:
            record = previous(*args, **kwargs)
            if record.name.startswith(prefixes):
                _mask_record(record)
            return record

        logging.setLogRecordFactory(factory)
        _installed = True


def _mask_args(record: logging.LogRecord, masked: str) -> bool:
    """Mask each string argument in place when that gives the masked message; return whether it did.

    Formatters such as uvicorn's access log read ``record.args`` as a tuple, so it is kept when
    possible.
    """
    if not isinstance(record.args, tuple) or not isinstance(record.msg, str):
        return False
    args = tuple(MEMORY.sanitize(arg) if isinstance(arg, str) else arg for arg in record.args)
    message = MEMORY.sanitize(record.msg)
    try:
        if message % args != masked:
            return False
    except (TypeError, ValueError):
        return False
    record.msg = message
    record.args = args
    return True


def _mask_record(record: logging.LogRecord) -> None:
    try:
        message = record.getMessage()
    except (TypeError, ValueError):
        return
    masked = MEMORY.sanitize(message)
    if masked != message and not _mask_args(record, masked):
        record.msg = masked
        record.args = None
    if record.stack_info:
        record.stack_info = MEMORY.sanitize(record.stack_info)
    if record.exc_info and record.exc_info[0] is not None:
        text = "".join(traceback.format_exception(*record.exc_info)).rstrip("\n")
        masked = MEMORY.sanitize(text)
        record.exc_text = masked
        if masked != text:
            # A formatter that formats exc_info itself would print the secret, so only the masked
            # text is kept. NOTE: the JSON formatter reads exc_info only and then prints no traceback.
            record.exc_info = None
