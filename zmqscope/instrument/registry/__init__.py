"""The records of this process's contexts and sockets.

:mod:`.sites` holds call sites as captured, :mod:`.entries` one context's or
socket's mutable record (and the rule of what may keep ``term()`` waiting),
:mod:`.events` the bounded event log, :mod:`.journal` the lazy journal (the
raw records the busy hooks write without the lock, and their draining; the
only module that reads a raw record), :mod:`.store` the
:class:`~.store.Registry` that keeps them all and freezes them into model
values (its parts in :mod:`.base`, :mod:`.contexts` and :mod:`.reading`).
Imports only the model, zmqscope's frames and the low-layer root modules.
"""
