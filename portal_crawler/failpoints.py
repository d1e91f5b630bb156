"""Fault injection for durability tests: die at a chosen database write.

`PORTAL_FAILPOINT=kill-after-flush:N` makes the crawl SIGKILL itself right
after the Nth flush of an archive transaction, i.e. with rows written but
not committed: the moment a power cut or an OOM kill hurts most. Unset (the
default), nothing is registered and nothing costs anything.
"""

from __future__ import annotations

import os
import signal
from typing import Any

from sqlalchemy import event
from sqlalchemy.orm import Session

ENV = "PORTAL_FAILPOINT"


def install() -> None:
    spec = os.environ.get(ENV, "")
    if not spec.startswith("kill-after-flush:"):
        return
    remaining = {"flushes": int(spec.split(":", 1)[1])}

    def after_flush(session: Session, context: Any) -> None:
        remaining["flushes"] -= 1
        if remaining["flushes"] <= 0:
            os.kill(os.getpid(), signal.SIGKILL)

    event.listen(Session, "after_flush", after_flush)
