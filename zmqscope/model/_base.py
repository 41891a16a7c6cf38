"""The schema name, the state enums, and the checks every from_dict uses."""

from __future__ import annotations

from collections.abc import Mapping
from enum import Enum
from typing import Any

SCHEMA = "zmqscope.report/1"


class SchemaError(ValueError):
    """A document is not a zmqscope report this version can read."""


class SocketState(str, Enum):
    OPEN = "open"
    CLOSED = "closed"
    COLLECTED = "collected"


class ContextState(str, Enum):
    OPEN = "open"
    TERMINATING = "terminating"
    TERMINATED = "terminated"


class EndpointOp(str, Enum):
    BIND = "bind"
    CONNECT = "connect"


class LeakKind(str, Enum):
    OPEN_AT_EXIT = "open-at-exit"
    BLOCKS_TERM = "blocks-term"
    COLLECTED_UNCLOSED = "collected-unclosed"


def _require(data: Mapping[str, Any], key: str, kind: type | tuple[type, ...]) -> Any:
    try:
        value = data[key]
    except (KeyError, TypeError):
        raise SchemaError(f"missing field {key!r}") from None
    if not isinstance(value, kind):
        raise SchemaError(f"field {key!r} has the wrong type")
    return value


def _optional(data: Mapping[str, Any], key: str, kind: type | tuple[type, ...]) -> Any:
    value = data.get(key)
    if value is not None and not isinstance(value, kind):
        raise SchemaError(f"field {key!r} has the wrong type")
    return value


def _list(data: Mapping[str, Any], key: str) -> list[Any]:
    value = data.get(key, [])
    if not isinstance(value, list):
        raise SchemaError(f"field {key!r} is not a list")
    return value
