"""The attach transport: how another process talks to zmqscope's server.

Owns the request/reply protocol (:mod:`.protocol`) and the wire encoding of
records (:mod:`.wire`), the server (:mod:`.server`, over ipc
:mod:`.stream_server`, over tcp :mod:`.zmq_server`, each request through
:mod:`.handler` within a CPU budget :mod:`.budget`), the runtime folder and
discovery files (:mod:`.runtime`, :mod:`.discovery`), who may connect
(:mod:`.access`, :mod:`.curve`) and the client (:mod:`.client` over
:mod:`.channels`).

May import: the model, reporting and zmqscope's low-layer root modules, never
the instrumentation (:mod:`zmqscope.instrument`): a client, and the TUI on
top of it, load none of it. The server is handed what it answers (see
:class:`.handler.Answers`).
"""
