"""What tests share besides fixtures, one module per concern.

Test modules and conftest files import helpers from here; no module imports
from a conftest file or from a ``test_*`` module (tests/unit/test_test_layout.py).

- ``call_site``: the caller's line, to assert recorded call sites
- ``processes``: zmqscope and python in real subprocesses, apps written to disk
- ``report_files``: report files read back, recorded stacks checked
- ``hanging``: an app expected to hang, watched and always killed
- ``serving``: private runtime folders and serving apps for the server's tests
- ``second_user``: another local user, for access tests
- ``raw_stream``: a bare, misbehaving client of the server's ipc transport
- ``hostile``: hostile strings and records
- ``records``: hand-built socket records and snapshots for report tests
- ``fake_client``: a hand-built target for the TUI
- ``tui``: app factories and readers of what the TUI shows
- ``pytester_runs``: pytest with the plugin on small suites, in a subprocess
"""
