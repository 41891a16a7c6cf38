"""``zmqscope run`` starts the application exactly as ``python`` would.

Each test runs the same app under plain ``python`` and under ``zmqscope run``
and compares what the app saw: ``sys.argv``, ``__name__``, ``__file__``,
``sys.path``, and whether objects of classes defined in ``__main__`` pickle.
"""

from __future__ import annotations

import json
import zipfile
from pathlib import Path
from typing import Any

import pytest

from tests.helpers.processes import describe, run_python, write_app, zmqscope_cli
from tests.helpers.report_files import read_report

# The app prints what Python set up for it, as one JSON line on stdout.
IDENTITY = """
import json
import pickle
import sys


class Order:
    def __init__(self, quantity):
        self.quantity = quantity


restored = pickle.loads(pickle.dumps(Order(3)))
try:
    import helper  # lives beside the script (or in the cwd for -m)
    helper_found = helper.__file__
except ImportError:
    helper_found = None
print(json.dumps({
    "argv": sys.argv,
    "name": __name__,
    "file": __file__,
    "package": __package__,
    "spec": __spec__.name if __spec__ is not None else None,
    "path": sys.path,
    "main_is_this_module": sys.modules["__main__"].__dict__ is globals(),
    "pickled": [type(restored).__module__, type(restored).__qualname__, restored.quantity],
    "helper": helper_found,
}))
"""

APP_ARGS = ("--json", "out.json", "-m", "other", "--fail-on-leak", "--", "last")


def identity(stdout: str) -> dict[str, Any]:
    """The JSON line the IDENTITY app printed."""
    lines = stdout.strip().splitlines()
    assert len(lines) == 1, stdout
    seen: dict[str, Any] = json.loads(lines[0])
    return seen


def write_package(root: Path) -> None:
    """``shop`` (runnable with -m through its ``__main__``) and ``shop.tools.probe``."""
    write_app(root, "", "shop/__init__.py")
    write_app(root, "", "shop/tools/__init__.py")
    write_app(root, IDENTITY, "shop/tools/probe.py")
    write_app(root, IDENTITY, "shop/__main__.py")
    write_app(root, "", "helper.py")


@pytest.mark.parametrize(
    ("module_args", "runs"),
    [
        pytest.param(("-m", "shop.tools.probe"), "shop/tools/probe.py", id="module"),
        pytest.param(("-m", "shop"), "shop/__main__.py", id="package-main"),
        pytest.param(("-mshop.tools.probe",), "shop/tools/probe.py", id="glued-m"),
    ],
)
def test_module_runs_like_python_m(tmp_path: Path, module_args: tuple[str, ...], runs: str) -> None:
    """``-m MODULE ARGS``: the app sees what ``python -m`` gives it, option-like args included."""
    write_package(tmp_path)
    report_path = tmp_path / "report.json"

    plain = run_python(*module_args, *APP_ARGS, cwd=tmp_path)
    assert plain.returncode == 0, describe(plain)
    scoped = zmqscope_cli("run", "--json", str(report_path), *module_args, *APP_ARGS, cwd=tmp_path)
    assert scoped.returncode == 0, describe(scoped)

    expected = identity(plain.stdout)
    seen = identity(scoped.stdout)
    assert seen == expected
    # What python -m sets, spelled out so a failure says which part broke.
    assert seen["argv"] == [str(tmp_path / runs), *APP_ARGS]
    assert seen["name"] == "__main__"
    assert seen["path"][0] == str(tmp_path)
    assert seen["main_is_this_module"] is True
    assert seen["pickled"] == ["__main__", "Order", 3]

    # The app's own "--json out.json" went to the app, not to zmqscope.
    assert not (tmp_path / "out.json").exists()
    assert read_report(report_path)["process"]["argv"] == seen["argv"]


def _script_layout(root: Path, layout: str) -> tuple[str, Path]:
    """Write the app; return (how it is named on the command line, its folder)."""
    if layout == "symlink":
        # Python puts the folder of the symlink's *target* on sys.path.
        target = write_app(root, IDENTITY, "src/app.py")
        write_app(root, "", "src/helper.py")
        link = root / "bin" / "app.py"
        link.parent.mkdir()
        link.symlink_to(Path("..") / "src" / "app.py")
        return "bin/app.py", target.parent
    script = write_app(root, IDENTITY, "scripts/app.py")
    write_app(root, "", "scripts/helper.py")
    name = str(script) if layout == "absolute" else "scripts/app.py"
    return name, script.parent


@pytest.mark.parametrize(
    ("layout", "env"),
    [
        pytest.param("relative", {}, id="relative"),
        pytest.param("absolute", {}, id="absolute"),
        pytest.param("symlink", {}, id="symlink"),
        pytest.param("relative", {"PYTHONSAFEPATH": "1"}, id="PYTHONSAFEPATH"),
    ],
)
def test_script_runs_like_python(tmp_path: Path, layout: str, env: dict[str, str]) -> None:
    """``SCRIPT ARGS``: argv, __name__, __file__, sys.path and pickling match plain python."""
    name, folder = _script_layout(tmp_path, layout)

    plain = run_python(name, *APP_ARGS, cwd=tmp_path, env=env)
    assert plain.returncode == 0, describe(plain)
    scoped = zmqscope_cli("run", name, *APP_ARGS, cwd=tmp_path, env=env)
    assert scoped.returncode == 0, describe(scoped)

    expected = identity(plain.stdout)
    seen = identity(scoped.stdout)
    assert seen == expected
    assert seen["argv"] == [name, *APP_ARGS]
    assert seen["name"] == "__main__"
    assert seen["file"] == str(tmp_path / name)
    assert seen["main_is_this_module"] is True
    assert seen["pickled"] == ["__main__", "Order", 3]
    if env.get("PYTHONSAFEPATH"):
        assert seen["helper"] is None  # nothing prepended: the script's folder is not on sys.path
    else:
        assert seen["path"][0] == str(folder)
        assert seen["helper"] == str(folder / "helper.py")
    assert not (tmp_path / "out.json").exists()


def _runnable_layout(root: Path, layout: str) -> str:
    """A folder or a zip archive holding ``__main__.py`` (and ``helper.py``); its name."""
    if layout == "folder":
        write_app(root, IDENTITY, "service/__main__.py")
        write_app(root, "", "service/helper.py")
        return "service"
    archive = root / "service.pyz"
    with zipfile.ZipFile(archive, "w") as bundle:
        bundle.writestr("__main__.py", IDENTITY)
        bundle.writestr("helper.py", "")
    return archive.name


@pytest.mark.parametrize("layout", ["folder", "zip"])
@pytest.mark.parametrize("env", [{}, {"PYTHONSAFEPATH": "1"}], ids=["", "PYTHONSAFEPATH"])
def test_a_folder_or_zip_with_main_runs_like_python(
    tmp_path: Path, layout: str, env: dict[str, str]
) -> None:
    """``zmqscope run DIR`` (or ``app.pyz``) runs its ``__main__.py`` as ``python DIR`` does."""
    name = _runnable_layout(tmp_path, layout)
    report_path = tmp_path / "report.json"

    plain = run_python(name, *APP_ARGS, cwd=tmp_path, env=env)
    assert plain.returncode == 0, describe(plain)
    scoped = zmqscope_cli("run", "--json", str(report_path), name, *APP_ARGS, cwd=tmp_path, env=env)
    assert scoped.returncode == 0, describe(scoped)

    expected = identity(plain.stdout)
    seen = identity(scoped.stdout)
    assert seen == expected
    assert seen["argv"] == [name, *APP_ARGS]
    assert seen["file"] == str(tmp_path / name / "__main__.py")
    assert seen["path"][0] == str(tmp_path / name)  # even under PYTHONSAFEPATH
    assert seen["helper"] == str(tmp_path / name / "helper.py")
    assert seen["pickled"] == ["__main__", "Order", 3]
    assert read_report(report_path)["process"]["argv"] == seen["argv"]


def test_a_folder_without_main_is_one_line_and_status_2(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    scoped = zmqscope_cli("run", "empty", cwd=tmp_path)
    assert scoped.returncode == 2, describe(scoped)
    assert scoped.stderr.splitlines() == [
        f"zmqscope: error: can't find '__main__' module in {str(tmp_path / 'empty')!r}"
    ]
