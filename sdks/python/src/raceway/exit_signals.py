"""SIGTERM without losing events. Python's default SIGTERM ends the process at once, without
`atexit`, so the events of the last requests would be lost (what a container's stop, or
`kill`, sends). When SIGTERM has its default action, the SDK handles it: it sends what the
transports hold (at most 5 s), then puts the default back and sends itself SIGTERM again, so the
process ends exactly as it would have. An application (or a server: gunicorn, uvicorn) with a
SIGTERM handler of its own keeps it; its normal exit runs `atexit`, which flushes too."""

from __future__ import annotations

import os
import signal
import threading
from collections.abc import Callable
from types import FrameType

_installed = False


def flush_on_sigterm(flush: Callable[[], None]) -> bool:
    """Makes a default SIGTERM call `flush` first; True when installed (now or before). Only
    from the main thread (where Python runs signal handlers), and only over the default action."""
    global _installed
    if _installed:
        return True
    if not hasattr(signal, "SIGTERM") or threading.current_thread() is not threading.main_thread():
        return False
    try:
        if signal.getsignal(signal.SIGTERM) is not signal.SIG_DFL:
            return False

        def on_sigterm(signum: int, frame: FrameType | None) -> None:
            signal.signal(signal.SIGTERM, signal.SIG_DFL)
            try:
                flush()
            finally:
                os.kill(os.getpid(), signal.SIGTERM)

        signal.signal(signal.SIGTERM, on_sigterm)
    except (ValueError, OSError):  # not the main interpreter, or signals unavailable
        return False
    _installed = True
    return True
