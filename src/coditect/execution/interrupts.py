"""Ctrl-C during a run: the first one asks the run to stop cleanly, the second quits.

While installed (in the main thread only), SIGINT and SIGTERM are counted rather than
raised: the run's loop looks at the count, cancels the running jobs, puts their tasks
back to pending and writes its summary. A second signal exits at once with code 130;
the run's lease then goes stale and the next ``coditect run`` takes its tasks back.
"""

from __future__ import annotations

import contextlib
import os
import signal
import threading
from collections.abc import Iterator

__all__ = ["Interrupts"]

_HARD_EXIT = (
    b"\nstopped at once: tasks still running stay in progress until the next "
    b"`coditect run` takes them back.\n"
)


class Interrupts:
    """Counts the stop signals received while ``installed``."""

    def __init__(self) -> None:
        self.count = 0

    def _on_signal(self, signum: int, frame: object) -> None:
        # A handler only counts (and may exit): the loop does the work, outside of it.
        self.count += 1
        if self.count > 1:
            os.write(2, _HARD_EXIT)
            os._exit(130)

    @contextlib.contextmanager
    def installed(self) -> Iterator[None]:
        """Count SIGINT and SIGTERM inside the block (main thread; elsewhere a no-op)."""
        if threading.current_thread() is not threading.main_thread():
            yield
            return
        previous = {s: signal.signal(s, self._on_signal) for s in (signal.SIGINT, signal.SIGTERM)}
        try:
            yield
        finally:
            for number, handler in previous.items():
                signal.signal(number, handler)
