"""Small pyzmq applications bundled for ``make demo`` and the documentation."""
