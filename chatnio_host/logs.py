"""Logging set-up: text lines by default, one JSON object per line with LOG_FORMAT=json."""

from __future__ import annotations

import contextvars
import datetime as dt
import json
import logging

__all__ = ["configure_logging", "request_id_var"]

request_id_var: contextvars.ContextVar[str | None] = contextvars.ContextVar("request_id", default=None)


class _RequestIdFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = request_id_var.get() or "-"
        return True


class JsonFormatter(logging.Formatter):
    """Format a record as one JSON object."""

    def format(self, record: logging.LogRecord) -> str:
        payload = {
            "time": dt.datetime.fromtimestamp(record.created, dt.UTC).isoformat(),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "request_id": getattr(record, "request_id", "-"),
        }
        if record.exc_info:
            payload["exception"] = self.formatException(record.exc_info)
        elif record.exc_text:
            # The relay's log masking replaces a traceback that held a secret with masked text.
            payload["exception"] = record.exc_text
        return json.dumps(payload, ensure_ascii=False)


def configure_logging(level: str = "INFO", fmt: str = "text") -> None:
    """Install one stream handler on the root logger (replacing one installed earlier)."""
    handler = logging.StreamHandler()
    handler.addFilter(_RequestIdFilter())
    if fmt == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(
            logging.Formatter("%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s")
        )
    handler.set_name("chatnio")
    root = logging.getLogger()
    for existing in list(root.handlers):
        if existing.get_name() == "chatnio":
            root.removeHandler(existing)
    root.addHandler(handler)
    root.setLevel(level)
    # Alembic logs its set-up and context on every revision read (each /ready);
    # chatnio_host.db.migrate logs what a migration changed instead.
    logging.getLogger("alembic").setLevel(max(logging.WARNING, root.level))
