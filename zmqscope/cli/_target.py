"""Find the script or module to run and execute it as ``__main__``.

Mirrors what ``python SCRIPT`` and ``python -m MODULE`` set up: ``sys.argv``,
``sys.path[0]``, a real ``__main__`` module in ``sys.modules`` (so pickling
and multiprocessing work), and tracebacks that start in the application.
"""

from __future__ import annotations

import builtins
import importlib.machinery
import importlib.util
import io
import os
import sys
import types
from dataclasses import dataclass
from importlib.machinery import ModuleSpec
from typing import Any, Literal

from zmqscope.cli._errors import CommandError


@dataclass(frozen=True)
class Target:
    """What the user asked to run."""

    kind: Literal["script", "module"]
    name: str
    args: tuple[str, ...] = ()


@dataclass
class ResolvedTarget:
    """Code ready to run as ``__main__``."""

    code: types.CodeType | None
    attributes: dict[str, Any]
    compile_error: SyntaxError | None = None

    def execute(self) -> BaseException | None:
        """Run the code; return how it ended (None, SystemExit, or an error)."""
        if self.code is None:
            # Python reports a script that does not compile, with status 1.
            return self.compile_error
        main = types.ModuleType("__main__")
        main.__dict__.update(self.attributes)
        main.__dict__["__builtins__"] = builtins
        sys.modules["__main__"] = main
        try:
            exec(self.code, main.__dict__)
        except BaseException as outcome:  # the application's, reported as Python would
            outcome.__traceback__ = _from_application(outcome.__traceback__, self.code)
            return outcome
        return None


def _from_application(tb: types.TracebackType | None, code: types.CodeType) -> Any:
    """Drop zmqscope's own frames from the top of a traceback."""
    start = tb
    while start is not None and start.tb_frame.f_code is not code:
        start = start.tb_next
    return start if start is not None else tb


def resolve_script(target: Target) -> ResolvedTarget:
    path = target.name
    if not os.path.exists(path):
        raise CommandError(f"can't open file {path!r}: no such file")
    if os.path.isdir(path):
        raise CommandError(f"{path!r} is a directory, not a Python script")
    absolute = os.path.abspath(path)
    try:
        with io.open_code(absolute) as handle:
            source = handle.read()
    except OSError as error:
        raise CommandError(f"can't open file {path!r}: {error.strerror}") from None
    sys.argv[:] = [path, *target.args]
    # Python puts the script's folder first, symlinks resolved, unless
    # -P / PYTHONSAFEPATH told it to put nothing there.
    _set_path0(os.path.dirname(os.path.realpath(absolute)))
    attributes = {
        "__name__": "__main__",
        "__file__": absolute,
        "__cached__": None,
        "__doc__": None,
        "__package__": None,
        "__spec__": None,
        "__loader__": importlib.machinery.SourceFileLoader("__main__", absolute),
    }
    try:
        code = compile(source, absolute, "exec", dont_inherit=True)
    except SyntaxError as error:
        return ResolvedTarget(None, attributes, compile_error=error)
    return ResolvedTarget(code, attributes)


def resolve_module(target: Target) -> ResolvedTarget:
    _set_path0(os.getcwd())
    spec = _find_spec(target.name)
    if spec.submodule_search_locations is not None:
        main_name = f"{target.name}.__main__"
        spec = _find_spec(main_name, package=target.name)
    loader = spec.loader
    if loader is None or not hasattr(loader, "get_code"):
        raise CommandError(f"cannot run module {target.name!r}: it has no code")
    try:
        code = loader.get_code(spec.name)
    except SyntaxError as error:
        return ResolvedTarget(None, {}, compile_error=error)
    except ImportError as error:
        raise CommandError(f"cannot load module {target.name!r}: {error}") from None
    if code is None:
        raise CommandError(f"cannot run module {target.name!r}: it has no code")
    origin = spec.origin or target.name
    sys.argv[:] = [origin, *target.args]
    attributes = {
        "__name__": "__main__",
        "__file__": origin,
        "__cached__": spec.cached,
        "__doc__": None,
        "__package__": spec.parent,
        "__spec__": spec,
        "__loader__": loader,
    }
    return ResolvedTarget(code, attributes)


def _set_path0(folder: str) -> None:
    """Replace the entry Python put first for zmqscope's own launcher.

    With -P / PYTHONSAFEPATH Python put none, so there is nothing to replace
    and the application gets none either.
    """
    if not getattr(sys.flags, "safe_path", False):
        sys.path[0] = folder


def _find_spec(name: str, package: str | None = None) -> ModuleSpec:
    try:
        spec = importlib.util.find_spec(name)
    except (ImportError, ValueError) as error:
        raise CommandError(f"no module named {name!r} ({error})") from None
    if spec is None:
        if package is not None:
            raise CommandError(f"{package!r} is a package and cannot be run directly")
        raise CommandError(f"no module named {name!r}")
    return spec
