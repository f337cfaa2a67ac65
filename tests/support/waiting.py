"""Waiting for another thread to get somewhere, and pressing Ctrl-C once it has.

`until(condition)` polls (a few seconds at most) and fails the test if the condition never
holds. `ctrl_c_when(condition)` sends SIGINT to the main thread once `condition` holds, as
a user's Ctrl-C would, so that the main thread's blocking call raises KeyboardInterrupt:

    with ctrl_c_when(lambda: limit.state().waiting == 1), pytest.raises(KeyboardInterrupt):
        llm.invoke("waits in line")
"""

from __future__ import annotations

import signal
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager


def until(condition: Callable[[], bool], seconds: float = 5.0) -> None:
    ends = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > ends:
            raise AssertionError("the other thread never got there")
        time.sleep(0.01)


@contextmanager
def ctrl_c_when(condition: Callable[[], bool]) -> Iterator[None]:
    main = threading.get_ident()

    def press() -> None:
        until(condition)
        signal.pthread_kill(main, signal.SIGINT)

    presser = threading.Thread(target=press)
    presser.start()
    try:
        yield
    finally:
        presser.join()
