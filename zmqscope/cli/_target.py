"""Find the script, folder, zip or module to run and execute it as ``__main__``.

Mirrors what ``python SCRIPT``, ``python DIR`` (or ``ZIP``) and ``python -m
MODULE`` set up: ``sys.argv``, ``sys.path[0]``, a real ``__main__`` module in
``sys.modules`` (so pickling and multiprocessing work), and tracebacks that
start in the application. What the application's own code raises while it
is being found (a parent package's ``__init__`` under ``-m``) is the
application's failure, as with ``python -m``: its traceback and status 1,
not a usage error.
"""

from __future__ import annotations

import builtins
import importlib.machinery
import importlib.util
import io
import os
import pkgutil
import sys
import types
from dataclasses import dataclass
from importlib.machinery import ModuleSpec
from typing import Any, Literal

from zmqscope.cli._errors import CommandError
from zmqscope.cli._traceback import from_application


@dataclass(frozen=True)
class Target:
    """What the user asked to run."""

    kind: Literal["script", "module"]
    name: str
    args: tuple[str, ...] = ()


@dataclass
class ResolvedTarget:
    """Code ready to run as ``__main__``, or how the application failed before its first line."""

    code: types.CodeType | None
    attributes: dict[str, Any]
    # A script that does not compile, or a parent package that raised.
    failure: BaseException | None = None

    def execute(self) -> BaseException | None:
        """Run the code; return how it ended (None, SystemExit, or an error)."""
        if self.code is None:
            # Python reports these with status 1 (or the SystemExit's), as the app's.
            return self.failure
        main = types.ModuleType("__main__")
        main.__dict__.update(self.attributes)
        main.__dict__["__builtins__"] = builtins
        sys.modules["__main__"] = main
        try:
            exec(self.code, main.__dict__)
        except BaseException as outcome:  # the application's, reported as Python would
            return from_application(outcome)
        return None


def _failed(error: BaseException) -> ResolvedTarget:
    return ResolvedTarget(None, {}, failure=from_application(error))


def resolve_script(target: Target) -> ResolvedTarget:
    """A script, or a folder or zip file holding ``__main__.py`` (as ``python PATH`` runs it)."""
    path = target.name
    if not os.path.exists(path):
        raise CommandError(f"can't open file {path!r}: no such file")
    # Python joins the path to the working directory without normalising it.
    joined = path if os.path.isabs(path) else os.path.join(os.getcwd(), path)
    if os.path.isdir(path) or (os.path.isfile(path) and pkgutil.get_importer(joined) is not None):
        return _resolve_main_of(joined, target)  # a folder, or a zip archive (.pyz)
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
        return _failed(error)
    return ResolvedTarget(code, attributes)


def _resolve_main_of(location: str, target: Target) -> ResolvedTarget:
    """``__main__`` of a folder or zip file, which goes first on ``sys.path``."""
    importer = pkgutil.get_importer(location)
    spec = importer.find_spec("__main__") if importer is not None else None
    if spec is None or spec.loader is None or not hasattr(spec.loader, "get_code"):
        raise CommandError(f"can't find '__main__' module in {location!r}")
    sys.argv[:] = [target.name, *target.args]
    # Needed to import __main__'s neighbours: Python adds it even under -P.
    _set_path0(location, always=True)
    try:
        code = spec.loader.get_code("__main__")
    except SyntaxError as error:
        return _failed(error)
    except ImportError as error:
        raise CommandError(f"cannot load '__main__' from {location!r}: {error}") from None
    if code is None:
        raise CommandError(f"can't find '__main__' module in {location!r}")
    return ResolvedTarget(code, _module_attributes(spec))


def resolve_module(target: Target) -> ResolvedTarget:
    """``-m MODULE``: its parent packages are imported first, as the application's code."""
    _set_path0(os.getcwd())
    # While the module is being located, Python's sys.argv[0] is "-m".
    sys.argv[:] = ["-m", *target.args]
    try:
        spec = _module_spec(target.name)
    except _ApplicationFailed as failed:
        return _failed(failed.error)
    loader = spec.loader
    if loader is None or not hasattr(loader, "get_code"):
        raise CommandError(f"cannot run module {target.name!r}: it has no code")
    try:
        code = loader.get_code(spec.name)
    except SyntaxError as error:
        return _failed(error)
    except ImportError as error:
        raise CommandError(f"cannot load module {target.name!r}: {error}") from None
    if code is None:
        raise CommandError(f"cannot run module {target.name!r}: it has no code")
    sys.argv[:] = [spec.origin or target.name, *target.args]
    return ResolvedTarget(code, _module_attributes(spec))


def _module_attributes(spec: ModuleSpec) -> dict[str, Any]:
    return {
        "__name__": "__main__",
        "__file__": spec.origin,
        "__cached__": spec.cached,
        "__doc__": None,
        "__package__": spec.parent,
        "__spec__": spec,
        "__loader__": spec.loader,
    }


class _ApplicationFailed(Exception):
    """The application's own code raised while its module was being found."""

    def __init__(self, error: BaseException) -> None:
        super().__init__(str(error))
        self.error = error


def _module_spec(name: str, package: str | None = None) -> ModuleSpec:
    """The spec of module ``name`` (of ``package.__main__`` for a package), parents imported.

    Importing the parents runs the application's code: what it raises is
    the application's (:class:`_ApplicationFailed`), except an ImportError
    saying that the parent itself is missing, which is the user's typo.
    """
    parent = name.rpartition(".")[0]
    if parent:
        try:
            __import__(parent)
        except ImportError as error:
            if not _names_ancestor(error, parent):
                raise _ApplicationFailed(error) from None
        except BaseException as error:  # SystemExit and KeyboardInterrupt are the app's too
            raise _ApplicationFailed(error) from None
    try:
        spec = importlib.util.find_spec(name)
    except (ImportError, AttributeError, TypeError, ValueError) as error:
        raise CommandError(f"no module named {name!r} ({error})") from None
    if spec is None:
        if package is not None:
            raise CommandError(f"{package!r} is a package and cannot be run directly")
        raise CommandError(f"no module named {name!r}")
    if spec.submodule_search_locations is not None:
        if package is not None:
            raise CommandError(f"{name!r} is a package and cannot be run directly")
        return _module_spec(f"{name}.__main__", package=name)
    return spec


def _names_ancestor(error: ImportError, parent: str) -> bool:
    """The ImportError says ``parent`` (or a package above it) does not exist."""
    missing = error.name
    return missing is not None and (missing == parent or parent.startswith(missing + "."))


def _set_path0(folder: str, always: bool = False) -> None:
    """Replace the entry Python put first for zmqscope's own launcher.

    With -P / PYTHONSAFEPATH Python put none, so there is nothing to replace
    and the application gets none either; ``always``: a folder or zip file
    to run from, which Python adds even then.
    """
    if not getattr(sys.flags, "safe_path", False):
        sys.path[0] = folder
    elif always:
        sys.path.insert(0, folder)
