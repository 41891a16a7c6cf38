"""``ZmqscopeError``: the one base of every error zmqscope raises.

At the bottom of the layers, importing nothing: the model's ``SchemaError``
derives from it as well as the server's and the client's errors. Each error
also keeps the standard base code may already catch it by (``SchemaError``
is a ``ValueError``, ``FileWriteError`` an ``OSError``, ``NotServing`` a
``LookupError``, ``UnsupportedPlatform`` a ``RuntimeError``).
"""


class ZmqscopeError(Exception):
    """An error of zmqscope's; its message is one line meant for the user."""
