"""The in-process recording: zmqscope's hooks on pyzmq and what they record.

Owns installing and removing the hooks (:mod:`.hooks`), the process's state
(:mod:`.state`), the wrappers put on pyzmq's classes (:mod:`.wrappers`) and
what each records (:mod:`.recording`), the opt-in traffic counters
(:mod:`.traffic`), call sites and threads (:mod:`.frames`, :mod:`.origins`,
:mod:`.threads`), the records themselves (:mod:`.registry`), the term()
watchdog (:mod:`.watchdog`), which sockets keep a term() waiting
(:mod:`.culprits`) and what the introspection server answers from the
records (:mod:`.answers`, with :mod:`.vitals`).

May import: the model, reporting, remote (the server it answers through) and
zmqscope's low-layer root modules. Nothing above it (cli, tui, the pytest
plugin, the public API) is imported here.
"""
