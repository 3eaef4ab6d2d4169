"""Test-wide setup: the whole test process runs cooperatively under gevent.

The server under test runs in the same process as the test, so everything that blocks
(sockets, threads of the Node harness, subprocess pipes) must yield to gevent's hub.
"""

from gevent import monkey

monkey.patch_all()

import logging  # noqa: E402

logging.getLogger("sockio_wsgi").setLevel(logging.DEBUG)
