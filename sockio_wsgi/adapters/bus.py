"""One Redis pub/sub connection shared by every namespace adapter of a server.

The bus owns a publishing client and one listener greenlet reading a subscriber
connection. It reconnects with backoff capped at ``backoff_max`` (1 s, about how soon
node-redis is back) when Redis goes away, resubscribes every
channel, reports ``healthy`` and logs when the bus goes down and comes back. Adapters
register the channels (and one pattern) they need and get each message handed to them;
a failing handler is logged and never stops the listener.

``redis`` is imported lazily so ``import sockio_wsgi`` works without the ``redis`` extra.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

from sockio_wsgi import runtime
from sockio_wsgi.adapters.cluster_wire import new_uid
from sockio_wsgi.exceptions import BusUnavailable

log = logging.getLogger("sockio_wsgi.adapters.redis")

# (channel, data) of one message on a channel the handler registered
MessageHandler = Callable[[str, bytes], None]

DEFAULT_URL = "redis://127.0.0.1:6379"


def redis_client(url_or_client: Any) -> tuple[Any, bool]:
    """A redis-py client for a URL (ours to close) or the client given (the caller's).

    Our clients fail fast (no retries, short connect timeout) so that publishing during an
    outage raises at once instead of blocking the emitting greenlet."""
    if not isinstance(url_or_client, str):
        return url_or_client, False
    import redis
    from redis.backoff import NoBackoff
    from redis.retry import Retry

    client = redis.Redis.from_url(
        url_or_client,
        socket_connect_timeout=2.0,
        socket_timeout=10.0,
        retry=Retry(NoBackoff(), 0),
        health_check_interval=0,
        socket_keepalive=True,
    )
    return client, True


def _redis_errors() -> tuple[type[BaseException], ...]:
    import redis.exceptions

    return (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError, OSError)


class RedisBus:
    """Subscriptions, the listener greenlet, health and publishing for one server."""

    def __init__(
        self,
        url_or_client: Any = DEFAULT_URL,
        key_prefix: str = "socket.io",
        backoff_max: float = 1.0,
    ) -> None:
        self.key_prefix = key_prefix
        self.uid = new_uid()
        self.backoff_max = backoff_max
        self._client, self._owned = redis_client(url_or_client)
        self._errors = _redis_errors()
        self._channels: dict[str, MessageHandler] = {}
        self._patterns: dict[str, MessageHandler] = {}
        self._pubsub: Any = None
        self._listener: Any = None
        self._healthy = False
        self._down_since: float | None = None  # when the last outage began
        self._up = runtime.Event()
        self._down = runtime.Event()
        self._down.set()
        self._closed = False

    # -- health ----------------------------------------------------------------------

    @property
    def healthy(self) -> bool:
        """Subscribed and reading: messages of other servers reach us."""
        return self._healthy

    def wait_health(self, healthy: bool, timeout: float) -> bool:
        """Wait until the bus is (or is not) healthy; False if the deadline passed first."""
        return bool((self._up if healthy else self._down).wait(timeout))

    def _set_health(self, healthy: bool, reason: str = "", expected: bool = False) -> None:
        if healthy == self._healthy:
            return
        self._healthy = healthy
        if healthy:
            self._down.clear()
            self._up.set()
            down_since, self._down_since = self._down_since, None
            if down_since is None:
                log.info("redis bus %s up (prefix %s)", self.uid, self.key_prefix)
            else:  # as loud as the outage was: operators look for the pair
                log.warning(
                    "redis bus %s up again after %.1fs (prefix %s)",
                    self.uid,
                    time.monotonic() - down_since,
                    self.key_prefix,
                )
        else:
            self._up.clear()
            self._down.set()
            if not expected:
                self._down_since = time.monotonic()
            log.log(
                logging.INFO if expected else logging.WARNING,
                "redis bus %s down: %s",
                self.uid,
                reason,
            )

    # -- subscriptions ---------------------------------------------------------------

    def register(self, channels: list[str], pattern: str | None, handler: MessageHandler) -> None:
        """Deliver messages of ``channels`` and ``pattern`` to ``handler`` from now on."""
        if self._closed:
            raise BusUnavailable("the redis bus is closed")
        for channel in channels:
            self._channels[channel] = handler
        if pattern is not None:
            self._patterns[pattern] = handler
        if self._listener is None or self._listener.dead:
            self._listener = runtime.spawn(self._listen)
        elif self._pubsub is not None:
            try:
                self._pubsub.subscribe(*channels)
                if pattern is not None:
                    self._pubsub.psubscribe(pattern)
            except self._errors as exc:
                log.debug("subscribing failed (the listener resubscribes): %s", exc)

    def unregister(self, channels: list[str], pattern: str | None) -> None:
        for channel in channels:
            self._channels.pop(channel, None)
        if pattern is not None:
            self._patterns.pop(pattern, None)
        if not self._channels and not self._patterns:
            self._stop("no namespace subscribed")
        elif self._pubsub is not None:
            try:
                if channels:
                    self._pubsub.unsubscribe(*channels)
                if pattern is not None:
                    self._pubsub.punsubscribe(pattern)
            except self._errors as exc:
                log.debug("unsubscribing failed: %s", exc)

    def _stop(self, reason: str) -> None:
        """No adapter left (the server closed): stop listening until one registers."""
        listener, self._listener = self._listener, None
        runtime.kill(listener, block=True)
        self._set_health(False, reason, expected=True)
        if self._owned:
            self._client.connection_pool.disconnect()

    # -- the listener ----------------------------------------------------------------

    def _subscribe_all(self, pubsub: Any) -> int:
        """Subscribe everything registered, again until nothing new came in meanwhile;
        returns how many subscriptions Redis will confirm."""
        channels: set[str] = set()
        patterns: set[str] = set()
        while True:
            new_channels = set(self._channels) - channels
            new_patterns = set(self._patterns) - patterns
            if not new_channels and not new_patterns:
                return len(channels) + len(patterns)
            if new_channels:
                pubsub.subscribe(*sorted(new_channels))
            if new_patterns:
                pubsub.psubscribe(*sorted(new_patterns))
            channels |= new_channels
            patterns |= new_patterns

    def on_listener(self) -> bool:
        """The caller runs on the listener greenlet (it must not wait for messages)."""
        return self._listener is not None and self._listener is runtime.current()

    def _current(self) -> bool:
        """This greenlet is the bus's listener (a stopped one ends its loop)."""
        return not self._closed and self._listener is runtime.current()

    def _listen(self) -> None:
        delay = 0.05
        while self._current():
            pubsub = self._client.pubsub()
            try:
                # healthy once Redis confirmed every subscription: from then on nothing
                # published to us is missed
                unconfirmed = self._subscribe_all(pubsub)
                self._pubsub = pubsub  # later registrations subscribe on it directly
                while self._current():
                    message = pubsub.get_message(timeout=1.0)
                    if message is None:
                        continue
                    if message.get("type") in ("subscribe", "psubscribe"):
                        unconfirmed -= 1
                        if unconfirmed <= 0 and not self._healthy:
                            self._set_health(True)
                            delay = 0.05
                    else:
                        self._dispatch(message)
            except self._errors as exc:
                if self._current():
                    reason = f"{type(exc).__name__}: {exc}"
                    if self._healthy:
                        self._set_health(False, reason)
                    elif delay == 0.05:  # the first failed attempt of this outage
                        log.warning("redis bus %s cannot subscribe: %s", self.uid, reason)
                        if self._down_since is None:
                            self._down_since = time.monotonic()
            finally:
                if self._pubsub is pubsub:
                    self._pubsub = None
                self._close_quietly(pubsub)
            if self._current():
                log.debug("redis bus %s reconnecting in %.2fs", self.uid, delay)
                runtime.sleep(delay)
                delay = min(delay * 2, self.backoff_max)

    def _dispatch(self, message: dict[str, Any]) -> None:
        kind = message.get("type")
        channel = _text(message.get("channel"))
        data = message.get("data")
        if not isinstance(data, bytes):
            return
        if kind == "pmessage":
            handler = self._patterns.get(_text(message.get("pattern")))
        elif kind == "message":
            handler = self._channels.get(channel)
        else:
            return
        if handler is None:
            log.debug("message on %s has no adapter (unsubscribed meanwhile)", channel)
            return
        try:
            handler(channel, data)
        except Exception:
            log.exception("redis bus: handling a message on %s failed", channel)

    @staticmethod
    def _close_quietly(pubsub: Any) -> None:
        try:
            pubsub.close()
        except Exception as exc:  # the connection is already broken
            log.debug("closing the subscriber connection: %s", exc)

    # -- publishing ------------------------------------------------------------------

    def publish(self, channel: str, data: bytes) -> None:
        """Publish, or raise :class:`BusUnavailable` at once while the bus is down."""
        if self._closed:
            raise BusUnavailable("the redis bus is closed")
        if not self._healthy:
            raise BusUnavailable(f"redis bus is down; not published to {channel}")
        try:
            self._client.publish(channel, data)
        except self._errors as exc:
            raise BusUnavailable(f"redis publish to {channel} failed: {exc}") from exc

    def numsub(self, channel: str) -> int:
        """How many connections (servers) subscribe to ``channel``."""
        if not self._healthy:
            raise BusUnavailable("redis bus is down")
        try:
            counts = self._client.pubsub_numsub(channel)
        except self._errors as exc:
            raise BusUnavailable(f"PUBSUB NUMSUB failed: {exc}") from exc
        return int(counts[0][1]) if counts else 0

    def close(self) -> None:
        """Stop the listener and close our connections (a caller's client stays open)."""
        if self._closed:
            return
        self._closed = True
        self._channels.clear()
        self._patterns.clear()
        self._stop("closed")


def _text(value: Any) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)
