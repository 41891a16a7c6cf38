"""What zmqscope concludes: leaks, culprits of a hung term(), thread misuse."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from zmqscope.model._base import LeakKind, SchemaError, _list, _optional, _require, _text, _time
from zmqscope.model._sites import Frame, ThreadRef, frames_from_list, frames_to_list


@dataclass(frozen=True, slots=True)
class Leak:
    """A socket the application did not clean up."""

    socket: str
    kind: LeakKind
    message: str

    def to_dict(self) -> dict[str, Any]:
        return {"socket": self.socket, "kind": self.kind.value, "message": self.message}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Leak:
        try:
            kind = LeakKind(_require(data, "kind", str))
        except ValueError:
            raise SchemaError("unknown leak kind") from None
        return cls(_require(data, "socket", str), kind, _require(data, "message", str))


@dataclass(frozen=True, slots=True)
class Culprit:
    """A socket that keeps a ``term()`` waiting, and where its owner is stuck."""

    socket: str
    reason: str
    owner_stack: tuple[Frame, ...] = ()
    owner: ThreadRef | None = None
    owner_alive: bool | None = None
    remedy: str = ""
    where: str = ""  # e.g. "svc-thread is in time.sleep(3600) at app.py:17"
    context: str | None = None
    # True for an open socket (it blocks for sure); False for a closed one
    # that may still hold queued messages.
    certain: bool = True

    def to_dict(self) -> dict[str, Any]:
        return {
            "socket": self.socket,
            "reason": self.reason,
            "owner_stack": frames_to_list(self.owner_stack),
            "owner": self.owner.to_dict() if self.owner else None,
            "owner_alive": self.owner_alive,
            "remedy": self.remedy,
            "where": self.where,
            "context": self.context,
            "certain": self.certain,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Culprit:
        owner = _optional(data, "owner", dict)
        return cls(
            socket=_require(data, "socket", str),
            reason=_require(data, "reason", str),
            owner_stack=frames_from_list(data.get("owner_stack", [])),
            owner=ThreadRef.from_dict(owner) if owner else None,
            owner_alive=_optional(data, "owner_alive", bool),
            remedy=_text(data, "remedy", ""),
            where=_text(data, "where", ""),
            context=_optional(data, "context", str),
            certain=bool(data.get("certain", True)),
        )


@dataclass(frozen=True, slots=True)
class UsageWarning:
    """A misuse the hooks saw: a socket used from two threads, not handed off.

    ``first`` is the thread that used the socket before, with the site of its
    last call; ``second`` the thread that used it next, with its call site.
    """

    kind: str
    socket: str
    message: str
    time: float
    first: ThreadRef
    first_site: Frame | None
    second: ThreadRef
    second_site: Frame | None

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "socket": self.socket,
            "message": self.message,
            "time": self.time,
            "threads": [self.first.to_dict(), self.second.to_dict()],
            "sites": [
                self.first_site.to_dict() if self.first_site else None,
                self.second_site.to_dict() if self.second_site else None,
            ],
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> UsageWarning:
        threads = _list(data, "threads")
        sites = _list(data, "sites")
        if len(threads) != 2 or len(sites) != 2:
            raise SchemaError("a warning names two threads and two sites")
        first_site, second_site = (Frame.from_dict(s) if s else None for s in sites)
        return cls(
            kind=_require(data, "kind", str),
            socket=_require(data, "socket", str),
            message=_require(data, "message", str),
            time=_time(data, "time"),
            first=ThreadRef.from_dict(threads[0]),
            first_site=first_site,
            second=ThreadRef.from_dict(threads[1]),
            second_site=second_site,
        )
