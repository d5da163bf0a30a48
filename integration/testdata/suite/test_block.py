"""A test that never ends by itself: the suite is interrupted while it runs."""
import threading


def test_blocks_until_interrupted():
    threading.Event().wait()
