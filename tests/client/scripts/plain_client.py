"""The client in a plain threaded program (no gevent patching): every feature that
involves threads, against the server at ``sys.argv[1]``. Prints ``OK`` at the end."""

import queue
import sys
import threading

from gevent import monkey

import sockio_wsgi

assert not monkey.is_module_patched("threading"), "this script must run on real threads"
assert not monkey.is_module_patched("socket")

url = sys.argv[1]
for transports in (None, ["polling"], ["websocket"]):
    client = sockio_wsgi.Client(reconnection_delay=0.05, reconnection_delay_max=0.1)
    greetings: queue.Queue = queue.Queue()
    connects: queue.Queue = queue.Queue()
    client.on("greeting", lambda *args, q=greetings: q.put(args))
    client.on("connect", lambda q=connects: q.put(True))
    client.connect(url, transports=transports)
    assert connects.get(timeout=5)
    assert client.emit_with_ack("echo", 1, b"\xff", timeout=5) == (1, b"\xff")
    client.emit("hello", "threads")
    assert greetings.get(timeout=5) == ("hello threads", b"\x00\x01")
    client.emit("drop")  # the connection is lost: the client reconnects by itself
    assert connects.get(timeout=10)
    assert client.emit_with_ack("echo", "again", timeout=5) == "again"
    client.disconnect()
    left = [t.name for t in threading.enumerate() if t is not threading.main_thread()]
    assert not left, left
    print("transport ok", transports, flush=True)

with sockio_wsgi.SimpleClient() as simple:
    simple.connect(url)
    simple.emit("hello", "simple")
    assert simple.receive(timeout=5) == ["greeting", "hello simple", b"\x00\x01"]
assert threading.active_count() == 1
print("OK", flush=True)
