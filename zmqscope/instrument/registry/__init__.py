"""The records of this process's contexts and sockets.

:mod:`.entries` holds one context's or socket's mutable record, :mod:`.events`
the bounded event log, :mod:`.store` the :class:`~.store.Registry` that keeps
them all (with the lazy journal of raw records) and freezes them into model
values. Imports only the model, zmqscope's frames and the low-layer root
modules.
"""
