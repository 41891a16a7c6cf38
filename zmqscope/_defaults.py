"""The default of every setting a user can leave out, in one place.

Read by every way in: ``install()``/``watch()`` and the ``term()`` watchdog,
``zmqscope run``'s options, ``ZMQSCOPE_*`` variables, the pytest plugin and
``attach``. Their bounds are :mod:`zmqscope._bounds`'. This module imports
nothing: it is safe to read from anywhere, at any layer.
"""

# Seconds a term()/destroy() may block before its culprits are reported
# (inside a test, before the plugin fails it).
DEFAULT_GRACE = 5.0
# Frames kept per call site.
DEFAULT_STACK_DEPTH = 12
# Seconds between two refreshes of ``zmqscope attach``.
DEFAULT_INTERVAL = 1.0
