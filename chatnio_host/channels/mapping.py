"""Model mapping of one channel: ``from>to`` lines, ``!from>to`` to hide ``to``.

``alias>real`` publishes the extra name ``alias`` and sends ``real`` upstream; ``real`` itself
stays servable when it is in the channel's models. ``!alias>real`` does the same and also hides
``real`` from this channel, so requests for ``real`` are not routed here. Targets are followed
through chains (``a>b`` and ``b>c`` send ``c`` for ``a``); a cycle is rejected when saving.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from chatnio_host.errors import InvalidRequest

__all__ = ["MappingRule", "ModelMapping", "parse_mapping", "hit_models", "normalize_mapping_text"]

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class MappingRule:
    """One mapping line: requests for ``source`` go upstream as ``target``."""

    source: str
    target: str
    hide_target: bool = False

    def line(self) -> str:
        """Return the rule as a mapping line."""
        return f"{'!' if self.hide_target else ''}{self.source}>{self.target}"


@dataclass(frozen=True)
class ModelMapping:
    """The parsed mapping of a channel."""

    rules: tuple[MappingRule, ...] = ()
    targets: Mapping[str, str] = field(default_factory=dict)
    hidden: frozenset[str] = frozenset()

    def upstream_model(self, model: str) -> str:
        """Return the name sent upstream for ``model``, following chains of rules."""
        seen = {model}
        current = model
        while current in self.targets:
            current = self.targets[current]
            if current in seen:
                # Saved mappings never contain cycles; stop rather than loop on a stored one.
                logger.warning("model mapping cycle through %s; sending %s", model, current)
                return current
            seen.add(current)
        return current

    def text(self) -> str:
        """Return the mapping as lines, one rule each."""
        return "\n".join(rule.line() for rule in self.rules)


def _parse_line(line: str) -> MappingRule | None:
    text = line.strip()
    if not text:
        return None
    hide = text.startswith("!")
    if hide:
        text = text[1:]
    parts = text.split(">")
    if len(parts) != 2:
        return None
    source, target = parts[0].strip(), parts[1].strip()
    if not source or not target:
        return None
    return MappingRule(source=source, target=target, hide_target=hide)


def parse_mapping(text: str | None, *, strict: bool = False) -> ModelMapping:
    """Parse mapping lines.

    Sides are trimmed. A line without exactly one ``>`` and two non-empty sides is dropped, or
    with ``strict`` rejected with ``InvalidRequest``; ``strict`` also rejects a source mapped
    twice and any cycle (``a>b``, ``b>c``, ``c>b``), so a saved mapping always resolves.
    """
    rules: list[MappingRule] = []
    targets: dict[str, str] = {}
    hidden: set[str] = set()

    for number, line in enumerate((text or "").splitlines(), start=1):
        rule = _parse_line(line)
        if rule is None:
            if line.strip() and strict:
                raise InvalidRequest(
                    f"Mapping line {number} {line.strip()!r} is invalid: write one rule per line as "
                    "from>to, or !from>to to hide the target from this channel's models.",
                    param="mapping",
                )
            continue
        if rule.source in targets:
            if strict:
                raise InvalidRequest(
                    f"Mapping line {number} maps {rule.source!r} a second time; keep one rule per source model.",
                    param="mapping",
                )
            continue
        rules.append(rule)
        targets[rule.source] = rule.target
        if rule.hide_target:
            hidden.add(rule.target)

    if strict:
        _reject_cycles(targets)
    return ModelMapping(rules=tuple(rules), targets=targets, hidden=frozenset(hidden))


def _reject_cycles(targets: Mapping[str, str]) -> None:
    for start in targets:
        path = [start]
        current = start
        while current in targets:
            current = targets[current]
            if current in path:
                cycle = " > ".join(path[path.index(current):] + [current])
                raise InvalidRequest(
                    f"The model mapping has a cycle ({cycle}); remove one of these rules so every "
                    "model resolves to a final upstream name.",
                    param="mapping",
                )
            path.append(current)


def normalize_mapping_text(value: str | Mapping[str, str] | None) -> str:
    """Turn the API's mapping value (lines, or an object of source to target) into checked lines."""
    if value is None:
        return ""
    if isinstance(value, Mapping):
        lines = []
        for source, target in value.items():
            if not isinstance(source, str) or not isinstance(target, str):
                raise InvalidRequest("Mapping object keys and values must be model names (strings).", param="mapping")
            lines.append(f"{source}>{target}")
        value = "\n".join(lines)
    return parse_mapping(value, strict=True).text()


def hit_models(models: Iterable[str], mapping: ModelMapping) -> list[str]:
    """Return the names a channel serves: its models and the mapping sources, minus hidden ones."""
    result: list[str] = []
    seen: set[str] = set()
    for name in list(models) + [rule.source for rule in mapping.rules]:
        if name in mapping.hidden or name in seen:
            continue
        seen.add(name)
        result.append(name)
    return result
