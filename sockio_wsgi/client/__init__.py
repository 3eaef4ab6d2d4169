"""The Python client: ``Client`` (handlers, namespaces, reconnection, buffering, retries)
and ``SimpleClient`` (blocking receive). Standard-library threads and sockets only."""

from sockio_wsgi.client.buffer import BufferFullError
from sockio_wsgi.client.client import Client
from sockio_wsgi.client.engine import ConnectionError
from sockio_wsgi.client.outgoing import BadNamespaceError
from sockio_wsgi.client.simple import SimpleClient

__all__ = ["BadNamespaceError", "BufferFullError", "Client", "ConnectionError", "SimpleClient"]
