"""The :class:`Report` value and its ``zmqscope.report/1`` JSON form.

The text and Markdown renderers read a :class:`Report`, so this module does
not import them: the package's ``__init__`` hands them over
(:func:`use_renderers`) as it loads, before any report can be rendered (the
package is always loaded before one of its modules).
"""

from __future__ import annotations

import json
import math
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any, NoReturn, TypeVar

from zmqscope.model import (
    MAX_ITEMS,
    SCHEMA,
    ContextRecord,
    Culprit,
    Leak,
    LeakKind,
    LimitWarning,
    ProcessInfo,
    SchemaError,
    Snapshot,
    SocketRecord,
    SocketState,
    UsageWarning,
    check_count,
    check_time,
    snapshot_limits,
)
from zmqscope.model.held_terms import blocked_summary, held_terms
from zmqscope.model.wording import plural, tool_name
from zmqscope.reporting._groups import group_by_site
from zmqscope.reporting._processes import MAX_PROCESSES, UnreportedProcess, tree_summary

if TYPE_CHECKING:
    from rich.console import Console, ConsoleOptions, RenderableType

_T = TypeVar("_T")


def _not_loaded(report: Report) -> NoReturn:
    raise RuntimeError("zmqscope.reporting's renderers are not loaded")


@dataclass(slots=True)
class _Renderers:
    text: Callable[[Report], RenderableType] = _not_loaded
    markdown: Callable[[Report], str] = _not_loaded


_renderers = _Renderers()


def use_renderers(
    text: Callable[[Report], RenderableType], markdown: Callable[[Report], str]
) -> None:
    """What :class:`Report` renders itself with, as text (rich) and as Markdown."""
    _renderers.text = text
    _renderers.markdown = markdown


@dataclass(frozen=True, slots=True)
class Report:
    """A snapshot with the leaks found in it and, if ``term()`` hung, its culprits.

    Thread-sharing warnings come with the snapshot (:attr:`warnings`).

    Renders as JSON (:meth:`to_json`), Markdown (:meth:`to_markdown`) and
    text: pass it to ``rich.print`` or ``Console.print``.
    """

    snapshot: Snapshot
    leaks: tuple[Leak, ...]
    culprits: tuple[Culprit, ...]
    generated_at: float
    # Made as the process exits (``zmqscope run``, ZMQSCOPE=1), or of a
    # process still running: open sockets are "open at exit" or "still open".
    at_exit: bool = False
    # The process's open file descriptors and their soft limit when the
    # report was made (None: not known), for the limit warnings.
    fds: int | None = None
    fd_limit: int | None = None
    # The other processes of a ``zmqscope run`` tree (docs/report-json.md,
    # "processes"): a report each, and those that armed and left none.
    processes: tuple[Report, ...] = ()
    unreported: tuple[UnreportedProcess, ...] = ()
    _limits: tuple[LimitWarning, ...] | None = field(
        default=None, init=False, repr=False, compare=False
    )

    @property
    def has_leaks(self) -> bool:
        """True when at least one socket was not cleaned up, in this process or a child."""
        return bool(self.leaks) or any(child.has_leaks for child in self.processes)

    @property
    def tree_leaks(self) -> int:
        """Leaks of this process's children (their own leaks not counted)."""
        return sum(len(child.leaks) for child in self.processes)

    @property
    def warnings(self) -> tuple[UsageWarning, ...]:
        """Sockets the hooks saw used from two threads at once."""
        return self.snapshot.warnings

    @property
    def sockets_total(self) -> int:
        """Sockets ever created; never fewer than the snapshot still holds."""
        # A hand-built Snapshot leaves created_total at 0; "0 sockets created,
        # 2 open at exit" would be nonsense.
        return max(self.snapshot.created_total, len(self.snapshot.sockets))

    @property
    def inventory(self) -> tuple[SocketRecord, ...]:
        """Open sockets that are not leaks: what a running process is using.

        Empty at exit (every open socket is a leak then); a report of a
        running process (:func:`build_report` with ``live=True``) has its
        open sockets here, and only what really leaked in :attr:`leaks`.
        """
        leaked = {leak.socket for leak in self.leaks}
        return tuple(
            s for s in self.snapshot.sockets if s.state is SocketState.OPEN and s.id not in leaked
        )

    @property
    def limit_warnings(self) -> tuple[LimitWarning, ...]:
        """Contexts near libzmq's MAX_SOCKETS, file descriptors near their limit."""
        if self._limits is None:
            snapshot = self.snapshot
            found = snapshot_limits(snapshot.contexts, snapshot.sockets, self.fds, self.fd_limit)
            object.__setattr__(self, "_limits", found)
            return found
        return self._limits

    def summary_line(self) -> str:
        """One line for stderr: ``zmqscope: 5 sockets created, no leaks``.

        In a process that forked or was forked, ``zmqscope (pid 1234): ...``.

        A running process's open sockets are counted before the leaks
        (``17 open, no leaks``). Limit warnings, thread-sharing warnings and
        the culprits of a hung ``term()`` follow, after semicolons: ``term()
        blocked: 1 culprit`` while it waits, ``term() was blocked: ...`` once
        it is over.
        """
        line = f"{tool_name(self.snapshot.process)}: {self.counts_line()}"
        return line + tree_summary(len(self.processes), self.tree_leaks, len(self.unreported))

    def counts_line(self) -> str:
        """:meth:`summary_line` without the tool's name and the child processes."""
        line = f"{plural(self.sockets_total, 'socket')} created, "
        inventory = self.inventory
        if inventory:
            line += f"{len(inventory):,} open, "
        line += self._leak_summary()
        if self.snapshot.leaks_dropped:
            line += f" (and {self.snapshot.leaks_dropped:,} more collected, not kept)"
        if self.limit_warnings:
            line += f"; {plural(len(self.limit_warnings), 'limit warning')}"
        if self.warnings:
            line += f"; {plural(len(self.warnings), 'thread-sharing warning')}"
        if self.culprits:
            line += f"; {blocked_summary(held_terms(self.snapshot, self.culprits))}"
        return line

    def _leak_summary(self) -> str:
        if not self.leaks:
            return "no leaks"
        kinds = Counter(leak.kind for leak in self.leaks)
        parts = [
            f"{kinds[kind]} {label}"
            for kind, label in (
                (LeakKind.OPEN_AT_EXIT, "open at exit" if self.at_exit else "still open"),
                (LeakKind.COLLECTED_UNCLOSED, "collected without close()"),
                (LeakKind.BLOCKS_TERM, "blocking term()"),
            )
            if kinds[kind]
        ]
        return f"{plural(len(self.leaks), 'leak')}: {', '.join(parts)}"

    def to_dict(self) -> dict[str, Any]:
        """The ``zmqscope.report/1`` document (docs/report-json.md)."""
        snapshot = self.snapshot
        return {
            "schema": SCHEMA,
            "generated_at": format_timestamp(self.generated_at),
            "process": snapshot.process.to_dict(),
            "contexts": [c.to_dict() for c in snapshot.contexts],
            "sockets": [s.to_dict() for s in snapshot.sockets],
            "leaks": [leak.to_dict() for leak in self.leaks],
            "culprits": [c.to_dict() for c in self.culprits],
            # Not in the contract's example; additions it allows.
            "warnings": [w.to_dict() for w in snapshot.warnings],
            "at_exit": self.at_exit,
            "summary": self._summary(),
            "inventory": [group.to_dict() for group in group_by_site(self.inventory)],
            "limits": {
                "fds": self.fds,
                "fd_limit": self.fd_limit,
                "warnings": [w.to_dict() for w in self.limit_warnings],
            },
            "processes": [_process_entry(child) for child in self.processes],
            "unreported": [process.to_dict() for process in self.unreported],
        }

    def to_json(self, indent: int | None = 2) -> str:
        """:meth:`to_dict` as JSON text."""
        return json.dumps(self.to_dict(), indent=indent)

    def to_markdown(self) -> str:
        """The report as Markdown, suited to ``$GITHUB_STEP_SUMMARY``."""
        return _renderers.markdown(self)

    @classmethod
    def from_dict(cls, data: Any) -> Report:
        """Read a ``zmqscope.report/1`` document; :class:`SchemaError` if it is not one."""
        if not isinstance(data, dict):
            kind = "a list" if isinstance(data, list) else type(data).__name__
            raise SchemaError(f"not a zmqscope report: expected a JSON object, got {kind}")
        _check_schema(data.get("schema"))
        generated_at = parse_timestamp(data.get("generated_at"))
        sockets = _parse_list(data, "sockets", SocketRecord.from_dict)
        created_total, dropped, leaks_dropped = _parse_summary(data.get("summary"), len(sockets))
        culprits = _parse_list(data, "culprits", Culprit.from_dict)
        snapshot = Snapshot(
            taken_at=generated_at,
            process=_parse_section(data.get("process"), "process", ProcessInfo.from_dict),
            contexts=_parse_list(data, "contexts", ContextRecord.from_dict),
            sockets=sockets,
            created_total=created_total,
            dropped=dropped,
            leaks_dropped=leaks_dropped,
            culprits=culprits,
            warnings=_parse_list(data, "warnings", UsageWarning.from_dict),
        )
        at_exit = data.get("at_exit", True)  # (absent before 0.1: written at exit)
        if not isinstance(at_exit, bool):
            raise SchemaError("invalid zmqscope report: 'at_exit' is not true or false")
        fds, fd_limit = _parse_limits(data.get("limits"))
        processes, unreported = _parse_processes(data)
        return cls(
            snapshot=snapshot,
            leaks=_parse_list(data, "leaks", Leak.from_dict),
            culprits=culprits,
            generated_at=generated_at,
            at_exit=at_exit,
            fds=fds,
            fd_limit=fd_limit,
            processes=processes,
            unreported=unreported,
        )

    @classmethod
    def from_json(cls, text: str) -> Report:
        """Read a report saved with :meth:`to_json`; :class:`SchemaError` if it is not one."""
        try:
            data = json.loads(text, parse_constant=_refuse_constant)
        except json.JSONDecodeError as exc:
            raise SchemaError(
                f"not a zmqscope report: invalid JSON ({exc.msg} at line {exc.lineno}"
                f" column {exc.colno})"
            ) from None
        except (ValueError, RecursionError) as exc:
            raise SchemaError(f"not a zmqscope report: invalid JSON ({exc})") from None
        return cls.from_dict(data)

    def __rich_console__(
        self, console: Console, options: ConsoleOptions
    ) -> Iterator[RenderableType]:
        yield _renderers.text(self)

    def _summary(self) -> dict[str, int]:
        states = Counter(record.state for record in self.snapshot.sockets)
        return {
            "sockets_total": self.sockets_total,
            "open": states[SocketState.OPEN],
            "closed": states[SocketState.CLOSED],
            "collected": states[SocketState.COLLECTED],
            "leaks": len(self.leaks),
            "dropped": self.snapshot.dropped,
            # Leaks (collected without close()) past the bound of kept ones.
            "leaks_dropped": self.snapshot.leaks_dropped,
            # Open sockets of a running process that are not leaks.
            "inventory": len(self.inventory),
        }


def format_timestamp(timestamp: float) -> str:
    """``2026-11-28T10:00:00Z``: whole seconds, as in the schema's example."""
    moment = datetime.fromtimestamp(math.floor(timestamp), tz=timezone.utc)
    return moment.replace(tzinfo=None).isoformat(timespec="seconds") + "Z"


def parse_timestamp(value: Any) -> float:
    """Seconds since the epoch from an ISO-8601 time; naive times are taken as UTC."""
    if not isinstance(value, str):
        raise SchemaError("invalid zmqscope report: 'generated_at' is missing or not a string")
    # datetime.fromisoformat only learnt the "Z" suffix in Python 3.11.
    text = value[:-1] + "+00:00" if value.endswith(("Z", "z")) else value
    try:
        moment = datetime.fromisoformat(text)
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=timezone.utc)
        timestamp = moment.timestamp()
    except (ValueError, OverflowError):
        raise SchemaError(
            f"invalid zmqscope report: 'generated_at' is not an ISO-8601 time: {value[:80]!r}"
        ) from None
    try:
        return check_time(timestamp, "'generated_at'")
    except SchemaError as error:
        raise SchemaError(f"invalid zmqscope report: {error}") from None


def _refuse_constant(name: str) -> Any:
    """``NaN``, ``Infinity`` and ``-Infinity``: Python reads them, JSON has no such numbers."""
    raise ValueError(f"{name} is not a JSON number")


def _check_schema(schema: Any) -> None:
    if schema is None:
        raise SchemaError("not a zmqscope report: it has no 'schema' field")
    # Minor versions (zmqscope.report/1.x) only add keys, so this version reads them.
    if not isinstance(schema, str) or not (schema == SCHEMA or schema.startswith(SCHEMA + ".")):
        raise SchemaError(f"unsupported report schema {schema!r} (this zmqscope reads {SCHEMA})")


def _parse_section(value: Any, where: str, parse: Callable[[dict[str, Any]], _T]) -> _T:
    if not isinstance(value, dict):
        problem = "is missing" if value is None else "is not an object"
        raise SchemaError(f"invalid zmqscope report: {where} {problem}")
    try:
        return parse(value)
    except (ValueError, TypeError, AttributeError, OverflowError) as exc:
        # SchemaError is a ValueError; the others come from odd nested values.
        raise SchemaError(f"invalid zmqscope report: {where}: {exc}") from None


def _parse_list(
    data: dict[str, Any], key: str, parse: Callable[[dict[str, Any]], _T]
) -> tuple[_T, ...]:
    items = data.get(key, [])
    if not isinstance(items, list):
        raise SchemaError(f"invalid zmqscope report: {key} is not a list")
    if len(items) > MAX_ITEMS:
        raise SchemaError(f"invalid zmqscope report: {key} has more than {MAX_ITEMS} items")
    return tuple(_parse_section(item, f"{key}[{i}]", parse) for i, item in enumerate(items))


def _parse_summary(summary: Any, socket_count: int) -> tuple[int, int, int]:
    """``(created_total, dropped, leaks_dropped)``; older writers may leave them out."""
    if summary is None:
        return socket_count, 0, 0
    if not isinstance(summary, dict):
        raise SchemaError("invalid zmqscope report: summary is not an object")
    total = summary.get("sockets_total", socket_count)
    dropped = summary.get("dropped", 0)
    leaks_dropped = summary.get("leaks_dropped", 0)
    try:
        return (
            check_count(total, "sockets_total"),
            check_count(dropped, "dropped"),
            check_count(leaks_dropped, "leaks_dropped"),
        )
    except SchemaError as error:
        raise SchemaError(f"invalid zmqscope report: summary.{error}") from None


def _parse_limits(limits: Any) -> tuple[int | None, int | None]:
    """``(fds, fd_limit)``; the warnings are worked out again from the records."""
    if limits is None:
        return None, None
    if not isinstance(limits, dict):
        raise SchemaError("invalid zmqscope report: limits is not an object")
    values = []
    for name in ("fds", "fd_limit"):
        value = limits.get(name)
        try:
            values.append(None if value is None else check_count(value, name))
        except SchemaError:
            raise SchemaError(f"invalid zmqscope report: limits.{name} is not a count") from None
    return values[0], values[1]


def _process_entry(child: Report) -> dict[str, Any]:
    """A child's report, with its ``pid`` and ``ppid`` on top for readers of the list."""
    entry = child.to_dict()
    entry.pop("processes", None)  # one level: a run's tree is flat in its root's report
    entry.pop("unreported", None)
    return {"pid": child.snapshot.process.pid, "ppid": child.snapshot.process.ppid, **entry}


def _parse_processes(
    data: dict[str, Any],
) -> tuple[tuple[Report, ...], tuple[UnreportedProcess, ...]]:
    """``processes`` (each read as a whole report) and ``unreported``; absent before 0.x."""
    entries = data.get("processes", [])
    if not isinstance(entries, list):
        raise SchemaError("invalid zmqscope report: processes is not a list")
    if len(entries) > MAX_PROCESSES:
        raise SchemaError(f"invalid zmqscope report: processes has more than {MAX_PROCESSES} items")
    processes = []
    for index, entry in enumerate(entries):
        if isinstance(entry, dict) and (entry.get("processes") or entry.get("unreported")):
            raise SchemaError(f"invalid zmqscope report: processes[{index}] holds processes")
        try:
            processes.append(Report.from_dict(entry))
        except SchemaError as error:
            raise SchemaError(f"processes[{index}]: {error}") from None
    unreported = _parse_list(data, "unreported", UnreportedProcess.from_dict)
    if len(unreported) > MAX_PROCESSES:
        raise SchemaError(
            f"invalid zmqscope report: unreported has more than {MAX_PROCESSES} items"
        )
    return tuple(processes), unreported
