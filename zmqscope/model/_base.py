"""The schema name, the state enums, and the checks every from_dict uses."""

from __future__ import annotations

from collections.abc import Mapping
from enum import Enum
from typing import Any

from zmqscope._errors import ZmqscopeError

SCHEMA = "zmqscope.report/1"


class SchemaError(ZmqscopeError, ValueError):
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


# What one document (a saved report, a server's reply) may hold. A report is
# data someone else wrote: NaN, 1e308 or year 9999 as a time, a megabyte
# thread name, threads started by threads a thousand deep crashed or froze
# whatever showed it. Values past these bounds make the document invalid.
MAX_TEXT = 1 << 20  # characters in one string
MAX_ITEMS = 1_000_000  # items in one list or object
MAX_INT = (1 << 64) - 1  # magnitude of an integer (thread idents are unsigned longs)
MAX_NUMBER = float(1 << 63)  # magnitude of any other number
# Times are seconds since the epoch, from 1970 to the start of the year 3000
# (every platform's time functions and datetime handle those).
MAX_TIME = 32503680000.0
# Threads started by threads started by threads: each ThreadRef may say where
# its thread was started, and by which thread (see ThreadRef.started).
MAX_NESTING = 32


def check_value(value: Any, what: str) -> Any:
    """``value``, if it lies within the bounds above; :class:`SchemaError` if not."""
    if isinstance(value, str):
        if len(value) > MAX_TEXT:
            raise SchemaError(f"{what} is longer than {MAX_TEXT} characters")
    elif isinstance(value, bool):
        pass
    elif isinstance(value, int):
        if not -MAX_INT <= value <= MAX_INT:
            raise SchemaError(f"{what} is out of range")
    elif isinstance(value, float):
        if not -MAX_NUMBER <= value <= MAX_NUMBER:  # NaN compares false: refused too
            raise SchemaError(f"{what} is not a finite number in range")
    elif isinstance(value, (list, dict)) and len(value) > MAX_ITEMS:
        raise SchemaError(f"{what} has more than {MAX_ITEMS} items")
    return value


def check_time(value: Any, what: str) -> float:
    """``value`` as a time (seconds since the epoch between 1970 and 3000)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise SchemaError(f"{what} is not a time")
    if not 0 <= value <= MAX_TIME:  # NaN compares false: refused too
        raise SchemaError(f"{what} is not a time between 1970 and 3000")
    return float(value)


def check_count(value: Any, what: str) -> int:
    """``value`` as a count: an integer from 0 within the bounds above."""
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_INT:
        raise SchemaError(f"{what} is not a count")
    return value


def scalar_text(value: Any, what: str) -> str:
    """A string, or a number or boolean written as one (never a list or object)."""
    if isinstance(value, (list, dict)) or value is None:
        raise SchemaError(f"{what} is not text")
    return str(check_value(value, what))


def _require(data: Mapping[str, Any], key: str, kind: type | tuple[type, ...]) -> Any:
    try:
        value = data[key]
    except (KeyError, TypeError):
        raise SchemaError(f"missing field {key!r}") from None
    if not isinstance(value, kind):
        raise SchemaError(f"field {key!r} has the wrong type")
    return check_value(value, f"field {key!r}")


def _optional(data: Mapping[str, Any], key: str, kind: type | tuple[type, ...]) -> Any:
    value = data.get(key)
    if value is not None and not isinstance(value, kind):
        raise SchemaError(f"field {key!r} has the wrong type")
    return check_value(value, f"field {key!r}")


def _list(data: Mapping[str, Any], key: str) -> list[Any]:
    value = data.get(key, [])
    if not isinstance(value, list):
        raise SchemaError(f"field {key!r} is not a list")
    return check_value(value, f"field {key!r}")  # type: ignore[no-any-return]


def _time(data: Mapping[str, Any], key: str) -> float:
    try:
        value = data[key]
    except (KeyError, TypeError):
        raise SchemaError(f"missing field {key!r}") from None
    return check_time(value, f"field {key!r}")


def _optional_time(data: Mapping[str, Any], key: str) -> float | None:
    value = data.get(key)
    return None if value is None else check_time(value, f"field {key!r}")


def _text(data: Mapping[str, Any], key: str, default: str) -> str:
    value = data.get(key)
    return default if value is None else scalar_text(value, f"field {key!r}")
