"""Rooms and fan-out: which sockets a broadcast reaches, in one process or a cluster."""

from sockio_wsgi.adapters.base import Adapter, AdapterHost, BroadcastOptions
from sockio_wsgi.adapters.memory import InMemoryAdapter

__all__ = ["Adapter", "AdapterHost", "BroadcastOptions", "InMemoryAdapter"]
