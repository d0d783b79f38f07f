"""A cap on the `?wait=` long-polls one API process holds at once.

A wait holds a greenlet of gunicorn's gevent worker and a Redis connection for up to 60 s.
Beyond the cap a request is answered at once, with the job as it is now (the client asks
again): the process's connections (1,000) and its Redis connections stay bounded, and the
probes always find room.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager


class WaitSlots:
    """At most `limit` waits at once in this process (0: none, every answer at once)."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._slots = threading.BoundedSemaphore(limit) if limit > 0 else None

    @contextmanager
    def slot(self) -> Iterator[bool]:
        """Yields whether the caller may wait (it holds a slot until the block ends)."""
        acquired = self._slots is not None and self._slots.acquire(blocking=False)
        try:
            yield acquired
        finally:
            if acquired and self._slots is not None:
                self._slots.release()
