"""Test-wide setup: the whole test process runs cooperatively under gevent.

The server under test runs in the same process as the test, so everything that blocks
(sockets, threads of the Node harness, subprocess pipes) must yield to gevent's hub.
"""

from gevent import monkey

monkey.patch_all()

import logging  # noqa: E402

logging.getLogger("sockio_wsgi").setLevel(logging.DEBUG)


import pytest  # noqa: E402

from tests.helpers.sio_interop import Recorder  # noqa: E402


@pytest.fixture
def record() -> Recorder:
    """What the server's handlers saw, for a test to wait on."""
    return Recorder()
