"""``zmqscope run`` splits its own options from the application's, as ``python`` does."""

from __future__ import annotations

import pytest

from zmqscope.cli import build_parser
from zmqscope.cli.run import split_arguments


@pytest.mark.parametrize(
    ("args", "own", "rest"),
    [
        # Each option that takes a value takes the next argument, even one
        # that looks like a script name.
        (
            ["--grace", "3", "--json", "app.py", "--traffic", "app.py", "--json", "x"],
            ["--grace", "3", "--json", "app.py", "--traffic"],
            ["app.py", "--json", "x"],
        ),
        (
            ["--stack-depth", "4", "--markdown", "r.md", "-m", "pkg.mod", "--grace"],
            ["--stack-depth", "4", "--markdown", "r.md"],
            ["-m", "pkg.mod", "--grace"],
        ),
        (["--fail-on-leak", "--no-serve", "app.py"], ["--fail-on-leak", "--no-serve"], ["app.py"]),
        (["--traffic", "--", "--app-option"], ["--traffic"], ["--app-option"]),
        (["-mpkg", "arg"], [], ["-m", "pkg", "arg"]),
    ],
)
def test_options_before_the_target_are_zmqscopes(
    args: list[str], own: list[str], rest: list[str]
) -> None:
    _, run_parser = build_parser()
    assert split_arguments(args, run_parser) == (own, rest)
