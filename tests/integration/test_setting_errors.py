"""On/off settings in the environment: a value that is neither is one line naming it.

``ZMQSCOPE_TRAFFIC=maybe`` used to turn traffic mode on in silence. The numbers'
bounds are tested with the other settings (test_lazy_start, test_nothing_lost).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.helpers.processes import describe, run_python

# Prints whether zmqscope is recording, and whether it counts traffic.
CODE = """
import zmq, zmqscope
sock = zmq.Context().socket(zmq.PUSH)
sockets = zmqscope.snapshot().sockets
print(bool(sockets), bool(sockets) and sockets[0].traffic is not None)
sock.close()
"""


@pytest.mark.parametrize("name", ["ZMQSCOPE", "ZMQSCOPE_TRAFFIC", "ZMQSCOPE_SERVE"])
def test_an_on_off_variable_that_is_neither_turns_instrumentation_off_naming_it(
    tmp_path: Path, name: str
) -> None:
    env = {"ZMQSCOPE": "1", name: "maybe"}
    result = run_python("-c", CODE, cwd=tmp_path, env=env)
    assert result.returncode == 0, describe(result)
    assert result.stdout == "False False\n", describe(result)  # the app runs, unwatched
    assert result.stderr == (
        f"zmqscope: instrumentation is off: {name} must be 1 or 0 (or true/false, yes/no, "
        "on/off), not 'maybe'\n"
    ), describe(result)
    # Every documented spelling of "on" is still on, in any case and with spaces.
    for value in ("1", " Yes ", "ON", "true"):
        result = run_python("-c", CODE, cwd=tmp_path, env={**env, name: value})
        assert result.returncode == 0, describe(result)
        traffic = name == "ZMQSCOPE_TRAFFIC"
        assert result.stdout == f"True {traffic}\n", describe(result)
