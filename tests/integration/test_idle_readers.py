"""Idle WebSockets hold no reader greenlet (engine/idle.py) and wake up on data.

The server runs in this process, so its greenlets and file descriptors can be counted;
the clients are raw WebSockets (blocking sockets, no greenlets of their own), our Python
client and the official Node client.
"""

from __future__ import annotations

import gc
import os
import queue
from collections.abc import Callable, Iterator

import gevent
import greenlet
import pytest

import sockio_wsgi
from tests.helpers.node import NodeClient
from tests.helpers.raw import (
    EngineHarness,
    RawWebSocket,
    masked_frame,
    parse_open,
    serving_engine,
)
from tests.helpers.server import serving, serving_sio
from tests.helpers.sio_interop import connected_sid

IDLE = 0.2  # idle_reader_timeout of these servers


def wait_for(condition: Callable[[], object], what: str, timeout: float = 5.0) -> None:
    """Poll a server-side condition that has no event of its own."""
    with gevent.Timeout(timeout, AssertionError(f"timed out waiting until {what}")):
        while not condition():
            gevent.sleep(0.01)


def live_greenlets() -> int:
    return sum(1 for o in gc.get_objects() if isinstance(o, greenlet.greenlet) and not o.dead)


def open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


def task_done(worker: greenlet.greenlet) -> bool:
    """A reader's task is over: its greenlet ended."""
    return bool(worker.dead)


def hibernated(eio: sockio_wsgi.EngineServer, sid: str) -> bool:
    sock = eio.sockets.get(sid)
    return sock is not None and sock.ws is not None and sock._reader is None


@pytest.fixture
def engine() -> Iterator[EngineHarness]:
    with serving_engine(echo=True, idle_reader_timeout=IDLE) as h:
        yield h


# -- engine level, raw WebSockets ------------------------------------------------------


def test_idle_connections_hold_no_greenlet_and_wake_on_data(engine: EngineHarness) -> None:
    gc.collect()
    before = live_greenlets()
    sockets = [engine.open_websocket() for _ in range(20)]
    try:
        wait_for(lambda: all(hibernated(engine.eio, sid) for _, sid in sockets), "all hibernate")
        gc.collect()
        # the accepting greenlets ended too: twenty idle connections, no greenlet each
        assert live_greenlets() - before < 5
        for index, (ws, _) in enumerate(sockets):
            ws.send(f"4wake {index}")
        for index, (ws, _) in enumerate(sockets):
            assert ws.recv() == f"4wake {index}"  # echoed by a newly started reader
        received = sorted(engine.recorder.next_message() for _ in sockets)
        assert received == sorted((sid, f"wake {i}") for i, (_, sid) in enumerate(sockets))
        # and they go back to sleep, and wake again
        wait_for(lambda: all(hibernated(engine.eio, sid) for _, sid in sockets), "sleep again")
        sockets[0][0].send("4again")
        assert sockets[0][0].recv() == "4again"
    finally:
        for ws, _ in sockets:
            ws.close()


def test_message_read_with_the_upgrade_packet_is_not_left_waiting(engine: EngineHarness) -> None:
    """The upgrade packet and a message in one TCP segment: the greenlet that read both
    must not leave the message for a readiness watcher that will never fire for it."""
    client = engine.polling()
    ws = engine.websocket(sid=client.sid)
    try:
        ws.send("2probe")
        assert ws.recv() == "3probe"
        ws.send_raw(masked_frame(1, b"5") + masked_frame(1, b"4right behind"))
        assert engine.recorder.next_message(timeout=2) == (client.sid, "right behind")
    finally:
        ws.close()


def test_server_writes_to_a_hibernated_connection(engine: EngineHarness) -> None:
    ws, sid = engine.open_websocket()
    try:
        wait_for(lambda: hibernated(engine.eio, sid), "it hibernates")
        engine.eio.send(sid, "to a sleeper")
        assert ws.recv() == "4to a sleeper"
        assert hibernated(engine.eio, sid)  # writing needs no reader
    finally:
        ws.close()


def test_peer_gone_while_hibernated_ends_the_session_and_frees_the_socket(
    engine: EngineHarness,
) -> None:
    fds = open_fds()
    sockets = [engine.open_websocket() for _ in range(10)]
    wait_for(lambda: all(hibernated(engine.eio, sid) for _, sid in sockets), "all hibernate")
    for ws, _ in sockets:
        ws.sock.close()  # no close frame: just the TCP connection going away
    for _, sid in sockets:
        assert engine.recorder.wait_disconnect(sid) == "transport close"
    wait_for(lambda: open_fds() <= fds, "the server closes their descriptors")
    assert engine.eio.sockets == {}


def test_server_close_of_a_hibernated_connection(engine: EngineHarness) -> None:
    fds = open_fds()
    ws, sid = engine.open_websocket()
    wait_for(lambda: hibernated(engine.eio, sid), "it hibernates")
    engine.eio.disconnect(sid)
    assert engine.recorder.wait_disconnect(sid) == "forced close"
    assert ws.recv_until_closed() == []
    ws.close()
    wait_for(lambda: open_fds() <= fds, "the server closes its descriptor")


def test_heartbeat_of_a_hibernated_connection() -> None:
    with serving_engine(idle_reader_timeout=IDLE, ping_interval=0.3, ping_timeout=0.5) as h:
        ws, sid = h.open_websocket()
        try:
            for _ in range(3):  # each pong wakes a reader, which hibernates again
                assert ws.recv() == "2"
                wait_for(lambda: hibernated(h.eio, sid), "it hibernates")
                ws.send("3")
            assert not h.recorder.is_disconnected(sid)
            # a peer that stops answering is timed out while no greenlet reads it
            assert ws.recv() == "2"
            assert h.recorder.wait_disconnect(sid) == "ping timeout"
        finally:
            ws.close()


def test_none_keeps_a_reader_per_connection() -> None:
    with serving_engine(echo=True, idle_reader_timeout=None) as h:
        ws, sid = h.open_websocket()
        try:
            gevent.sleep(0.3)  # longer than any sweep would wait: nothing may change
            assert h.eio.sockets[sid]._reader is not None
            ws.send("4awake")
            assert ws.recv() == "4awake"
        finally:
            ws.close()


def test_invalid_idle_reader_timeout() -> None:
    with pytest.raises(ValueError):
        sockio_wsgi.EngineServer(idle_reader_timeout=0)


def test_server_stop_ends_hibernated_websockets() -> None:
    eio = sockio_wsgi.EngineServer(idle_reader_timeout=IDLE)
    closed: queue.Queue[str] = queue.Queue()
    eio.on("disconnect", lambda sid, reason: closed.put(reason))
    with serving(sockio_wsgi.WSGIApp(eio)) as running:
        ws = RawWebSocket.connect(running.address, "/socket.io/?EIO=4&transport=websocket")
        sid = parse_open(str(ws.recv()))["sid"]
        wait_for(lambda: hibernated(eio, sid), "it hibernates")
    # leaving the block ran server.stop(): the kept connection ended with it
    assert closed.get(timeout=5) == "transport close"
    assert ws.recv_until_closed() == []
    ws.close()


# -- Socket.IO level, real clients -------------------------------------------------------


def make_sio() -> sockio_wsgi.Server:
    sio = sockio_wsgi.Server(idle_reader_timeout=IDLE)

    @sio.on("echo")
    def echo(socket: sockio_wsgi.Socket, data: object) -> object:
        return data

    @sio.on("ask")
    def ask(socket: sockio_wsgi.Socket, question: str) -> object:
        # waits for the client's ack on the socket it reads: reading moves to a new reader
        return socket.emit_with_ack("question", question, timeout=5)

    return sio


def all_hibernated(sio: sockio_wsgi.Server) -> bool:
    return bool(sio.clients) and all(hibernated(sio.eio, sid) for sid in sio.clients)


def test_python_client_across_hibernation() -> None:
    sio = make_sio()
    with serving_sio(sio) as running:
        client = sockio_wsgi.Client()
        news: queue.Queue[str] = queue.Queue()
        client.on("question", lambda q: q.upper())
        client.on("news", news.put)
        client.connect(running.url, transports=["websocket"])
        try:
            wait_for(lambda: all_hibernated(sio), "its reader hibernates")
            assert client.emit_with_ack("echo", {"n": 1}, timeout=5) == {"n": 1}
            wait_for(lambda: all_hibernated(sio), "it hibernates again")
            assert client.emit_with_ack("ask", "hi", timeout=5) == "HI"
            wait_for(lambda: all_hibernated(sio), "and again")
            sio.emit("news", "to everyone")
            assert news.get(timeout=5) == "to everyone"
        finally:
            client.disconnect()


def test_official_client_across_hibernation(client: NodeClient) -> None:
    sio = make_sio()
    with serving_sio(sio) as running:
        client.connect(running.url, "c1", transports=["websocket"])
        connected_sid(client, "c1")
        wait_for(lambda: all_hibernated(sio), "its reader hibernates")
        assert client.call("c1", "echo", [1, "two"]) == [[1, "two"]]
        client.auto_ack("c1", "question", "echo")
        wait_for(lambda: all_hibernated(sio), "it hibernates again")
        assert client.call("c1", "ask", "hey") == ["hey"]
        wait_for(lambda: all_hibernated(sio), "and again")
        sio.emit("news", "hello")
        assert client.wait_for("event", id="c1", event="news")["args"] == ["hello"]


def test_closing_a_session_ends_its_parked_reader(engine: EngineHarness) -> None:
    """Messages in quick succession leave a reader parked on the socket; a server-side
    close must wake it (it must not be left waiting on a watcher the close stopped)."""
    ws, sid = engine.open_websocket()
    try:
        for text in ("4one", "4two"):  # the second wake comes soon after the first: it parks
            ws.send(text)
            assert ws.recv() == text
        sock = engine.eio.sockets[sid]
        wait_for(lambda: sock._reader is not None and sock.ws.waiting, "a reader parks")
        reader = sock._reader
        engine.eio.disconnect(sid)
        assert engine.recorder.wait_disconnect(sid) == "forced close"
        wait_for(lambda: task_done(reader), "the parked reader ends")
        wait_for(lambda: engine.eio._idle.awake_count == 0, "the sweep forgets the session")
    finally:
        ws.close()


def test_a_handler_timeout_does_not_deafen_the_connection() -> None:
    sio = sockio_wsgi.Server(idle_reader_timeout=IDLE)

    @sio.on("slow")
    def slow(socket: sockio_wsgi.Socket) -> str:
        with gevent.Timeout(0.01):
            gevent.sleep(1)  # the Timeout escapes the handler
        return "never"

    @sio.on("echo")
    def echo(socket: sockio_wsgi.Socket, data: object) -> object:
        return data

    with serving_sio(sio) as running:
        client = sockio_wsgi.Client()
        client.connect(running.url, transports=["websocket"])
        try:
            wait_for(lambda: all_hibernated(sio), "it hibernates")  # the next reader is one-shot
            client.emit("slow")
            assert client.emit_with_ack("echo", "still here", timeout=5) == "still here"
            wait_for(lambda: all_hibernated(sio), "it hibernates again")
            client.emit("slow")
            assert client.emit_with_ack("echo", "and here", timeout=5) == "and here"
        finally:
            client.disconnect()


def test_our_handler_on_a_plain_pywsgi_server_keeps_its_greenlet() -> None:
    """pywsgi's own server closes a connection when its handler returns: under it our
    handler does not hand the socket over, and an idle WebSocket keeps its reader."""
    with serving_engine(
        echo=True, handler_class=sockio_wsgi.WebSocketHandler, idle_reader_timeout=IDLE
    ) as h:
        ws, sid = h.open_websocket()
        try:
            sock = h.eio.sockets[sid]
            assert sock.ws is not None and not sock.ws.kept
            gevent.sleep(IDLE * 3)  # idle through several sweeps: the condition under test
            assert sock._reader is not None
            ws.send("4still here")
            assert ws.recv() == "4still here"
            assert h.recorder.next_message() == (sid, "still here")
        finally:
            ws.close()
