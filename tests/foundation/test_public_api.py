"""The public API for plugin authors is exactly ``chatnio_host.__all__``."""

from __future__ import annotations

import json
import logging

import chatnio_host
from chatnio_host.logs import JsonFormatter, configure_logging, request_id_var


def test_all_matches_public_names() -> None:
    public = {name for name in vars(chatnio_host) if not name.startswith("_")}
    modules = {name for name, value in vars(chatnio_host).items() if type(value).__name__ == "module"}

    assert set(chatnio_host.__all__) == (public - modules) | {"__version__"}
    assert sorted(chatnio_host.__all__) == list(chatnio_host.__all__)


def test_every_exported_name_resolves() -> None:
    for name in chatnio_host.__all__:
        assert getattr(chatnio_host, name) is not None


def test_json_log_lines_carry_request_id() -> None:
    record = logging.LogRecord("chatnio_host.test", logging.WARNING, __file__, 1, "hello %s", ("world",), None)
    record.request_id = "req-42"

    line = json.loads(JsonFormatter().format(record))

    assert line["message"] == "hello world"
    assert line["level"] == "WARNING"
    assert line["request_id"] == "req-42"
    assert line["logger"] == "chatnio_host.test"


def test_configure_logging_replaces_its_handler() -> None:
    configure_logging("INFO", "json")
    configure_logging("DEBUG", "text")
    handlers = [handler for handler in logging.getLogger().handlers if handler.get_name() == "chatnio"]

    assert len(handlers) == 1
    assert logging.getLogger().level == logging.DEBUG
    token = request_id_var.set("abc")
    request_id_var.reset(token)
    configure_logging("WARNING", "text")
