"""The dialer's clock in the embedded default, where no Celery beat runs: one daemon thread of
the server process ticks the dialer every second while there is work (a running campaign, a
queued call), and stops when there is none. Production uses beat and workers instead."""

from __future__ import annotations

import logging
import threading

from django.db import close_old_connections, connection

logger = logging.getLogger(__name__)
TICK_S = 1.0


class EmbeddedDialerClock:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._woken = threading.Event()

    def wake(self) -> None:
        """Tick now, and keep ticking while there is work."""
        self._woken.set()
        with self._lock:
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="dialer-clock",
                                                daemon=True)
                self._thread.start()

    def _run(self) -> None:
        from calls.dialer import dialer_has_work, dialer_tick

        try:
            while True:
                self._woken.clear()
                close_old_connections()
                try:
                    dialer_tick()
                    busy = dialer_has_work()
                except Exception:  # the clock must outlive one bad tick
                    logger.exception("Dialer tick failed")
                    busy = True
                if not busy:
                    with self._lock:  # a wake() from now on starts a new thread
                        if not self._woken.is_set():
                            self._thread = None
                            return
                self._woken.wait(TICK_S)
        finally:
            connection.close()


embedded_clock = EmbeddedDialerClock()
