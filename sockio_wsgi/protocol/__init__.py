"""Sans-IO core: Engine.IO v4 and Socket.IO v5 codecs and state, no I/O, no clocks.

Everything here is pure: bytes and strings in, packets and events out. Time is passed in
as ``now`` by the caller, which makes every rule testable in microseconds.
"""

from sockio_wsgi.protocol.errors import PayloadTooLarge, ProtocolError

__all__ = ["PayloadTooLarge", "ProtocolError"]
