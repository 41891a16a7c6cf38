"""``python -m zmqscope`` is the ``zmqscope`` command."""

from __future__ import annotations

import sys

from zmqscope.cli import main

if __name__ == "__main__":
    sys.exit(main())
