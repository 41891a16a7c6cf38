"""Tracebacks that start in the application, as plain ``python`` prints them.

An exception leaving the application's code under ``zmqscope run`` passed
through frames that ``python app.py`` would not have: the ``run`` command's
own (at the top), the import system's while ``-m`` imports the parent
packages, and zmqscope's hooks between the application's call and pyzmq's
(``_wrappers.py``, around ``socket()``, ``connect()``...). Python cannot hide
a frame while an exception passes through it, but the traceback ``run``
prints can leave them out: the chain is rebuilt without them
(``types.TracebackType`` builds a link from a frame, its last instruction
and line). The exception object, its message and its chaining stay as they
were; only the ``__traceback__`` of each exception in the chain is replaced.
"""

from __future__ import annotations

import os
import types

import zmqscope

_PACKAGE = os.path.dirname(os.path.abspath(zmqscope.__file__)) + os.sep
# The bundled example applications are applications, not zmqscope.
_EXAMPLES = _PACKAGE + "examples" + os.sep
_IMPORTLIB = os.path.dirname(os.path.abspath(types.__file__)) + os.sep + "importlib" + os.sep
_RUNPY = os.path.dirname(os.path.abspath(types.__file__)) + os.sep + "runpy.py"


def is_zmqscope(filename: str) -> bool:
    """A frame of zmqscope's own code (the bundled examples excepted)."""
    return filename.startswith(_PACKAGE) and not filename.startswith(_EXAMPLES)


def _is_launcher(filename: str) -> bool:
    """What runs before the application's first line: zmqscope, the import system, runpy."""
    return (
        is_zmqscope(filename)
        or filename.startswith(("<frozen importlib", "<frozen runpy", _IMPORTLIB))
        or filename == _RUNPY
    )


def from_application(error: BaseException) -> BaseException:
    """``error`` with each traceback in its chain starting in the application's code.

    Leading frames of the launcher and every frame of zmqscope are left out.
    A chain with nothing left keeps its traceback (a fault of zmqscope's own
    must stay visible), except a :class:`SyntaxError`, which Python shows by
    its file and line alone (``python app.py`` prints no traceback for one).
    """
    seen: set[int] = set()
    pending: list[BaseException] = [error]
    while pending:
        current = pending.pop()
        if id(current) in seen:
            continue
        seen.add(id(current))
        current.__traceback__ = _filtered(current)
        pending += [e for e in (current.__cause__, current.__context__) if e is not None]
        # An ExceptionGroup's members carry tracebacks of their own (3.11+).
        members = getattr(current, "exceptions", ())
        if isinstance(members, tuple):
            pending += [e for e in members if isinstance(e, BaseException)]
    return error


def _filtered(error: BaseException) -> types.TracebackType | None:
    links: list[types.TracebackType] = []
    tb = error.__traceback__
    while tb is not None:
        links.append(tb)
        tb = tb.tb_next
    start = 0
    while start < len(links) and _is_launcher(links[start].tb_frame.f_code.co_filename):
        start += 1
    kept = [link for link in links[start:] if not is_zmqscope(link.tb_frame.f_code.co_filename)]
    if not kept:
        return None if isinstance(error, SyntaxError) else error.__traceback__
    if len(kept) == len(links):
        return error.__traceback__
    rebuilt: types.TracebackType | None = None
    for link in reversed(kept):
        rebuilt = types.TracebackType(rebuilt, link.tb_frame, link.tb_lasti, link.tb_lineno)
    return rebuilt
