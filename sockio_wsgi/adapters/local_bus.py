"""An in-process bus with the interface of :class:`~sockio_wsgi.adapters.bus.RedisBus`.

Several :class:`~sockio_wsgi.server.server.Server` objects of one process, each with a
``RedisAdapter`` over a :class:`LocalBus` of the same :class:`LocalHub`, form a cluster with
exactly the cluster logic (wire format, requests, acks) they run over Redis: the adapter
contract suite runs over both, and a test or a single-process app needs no Redis for it.
Like Redis pub/sub, delivery is asynchronous (each bus has a listener greenlet) and a
publisher also receives its own messages (the adapter ignores them by uid).
"""

from __future__ import annotations

import fnmatch
import logging

from sockio_wsgi import runtime
from sockio_wsgi.adapters.bus import MessageHandler
from sockio_wsgi.adapters.cluster_wire import new_uid
from sockio_wsgi.exceptions import BusUnavailable

log = logging.getLogger("sockio_wsgi.adapters")


class LocalHub:
    """The shared "server" of a set of :class:`LocalBus` objects."""

    def __init__(self) -> None:
        self.buses: list[LocalBus] = []

    def publish(self, channel: str, data: bytes) -> None:
        for bus in list(self.buses):
            bus._offer(channel, data)

    def numsub(self, channel: str) -> int:
        return sum(1 for bus in self.buses if channel in bus._channels)


class LocalBus:
    """One server's connection to a :class:`LocalHub`; always healthy until closed."""

    def __init__(self, hub: LocalHub, key_prefix: str = "socket.io") -> None:
        self.hub = hub
        self.key_prefix = key_prefix
        self.uid = new_uid()
        self._channels: dict[str, MessageHandler] = {}
        self._patterns: dict[str, MessageHandler] = {}
        self._inbox: runtime.Queue = runtime.Queue()
        self._listener = runtime.spawn(self._listen)
        self._closed = False
        hub.buses.append(self)

    @property
    def healthy(self) -> bool:
        return not self._closed

    def wait_health(self, healthy: bool, timeout: float) -> bool:
        return self.healthy == healthy

    def register(self, channels: list[str], pattern: str | None, handler: MessageHandler) -> None:
        if self._closed:
            raise BusUnavailable("the local bus is closed")
        for channel in channels:
            self._channels[channel] = handler
        if pattern is not None:
            self._patterns[pattern] = handler
        if self._listener.dead:
            self._listener = runtime.spawn(self._listen)

    def unregister(self, channels: list[str], pattern: str | None) -> None:
        for channel in channels:
            self._channels.pop(channel, None)
        if pattern is not None:
            self._patterns.pop(pattern, None)
        if not self._channels and not self._patterns:
            self._stop()  # as RedisBus: no adapter left, no listener

    def _stop(self) -> None:
        runtime.kill(self._listener, block=True)

    def on_listener(self) -> bool:
        return self._listener is runtime.current()

    def publish(self, channel: str, data: bytes) -> None:
        if self._closed:
            raise BusUnavailable("the local bus is closed")
        self.hub.publish(channel, data)

    def numsub(self, channel: str) -> int:
        return self.hub.numsub(channel)

    def _offer(self, channel: str, data: bytes) -> None:
        handlers = [handler for name, handler in self._channels.items() if name == channel]
        handlers += [h for p, h in self._patterns.items() if fnmatch.fnmatchcase(channel, p)]
        for handler in handlers:
            self._inbox.put((handler, channel, data))

    def _listen(self) -> None:
        while True:
            handler, channel, data = self._inbox.get()
            try:
                handler(channel, data)
            except Exception:
                log.exception("local bus: handling a message on %s failed", channel)

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._channels.clear()
        self._patterns.clear()
        if self in self.hub.buses:
            self.hub.buses.remove(self)
        self._stop()
