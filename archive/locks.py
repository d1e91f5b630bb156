"""One crawl per portal at a time: a lock row per portal, with a heartbeat.

A lock is stale, and may be taken over, when its holder ran on this host and
that process is gone (a crawl killed with SIGKILL), or when its heartbeat is
older than `stale_after` seconds (a holder on another host, or a reused pid).
"""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass

from sqlalchemy import delete, func, select, true
from sqlalchemy.orm import Session

from archive.errors import ArchiveError, LockHeld
from archive.models import (
    ArticleEvent,
    ArticleRevision,
    CrawlLock,
    CrawlRun,
    dialect_insert,
    parse_utc,
)

DEFAULT_STALE_AFTER = 900.0


@dataclass(frozen=True)
class Holder:
    """A lock holder: one crawl run of one process on one host."""

    run_id: int
    pid: int
    hostname: str


def this_process(run_id: int) -> Holder:
    return Holder(run_id=run_id, pid=os.getpid(), hostname=socket.gethostname())


def pid_alive(pid: int) -> bool:
    """Whether a process with this id exists on this host."""
    if pid <= 0:
        return False  # os.kill would signal a whole process group
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # it exists, owned by someone else
    except OSError:
        return False
    return True


def is_stale(lock: CrawlLock, now: str, stale_after: float) -> bool:
    if lock.hostname == socket.gethostname() and not pid_alive(lock.pid):
        return True
    age = (parse_utc(now) - parse_utc(lock.heartbeat_at)).total_seconds()
    return age > stale_after


def held_message(lock: CrawlLock) -> str:
    return (
        f"portal {lock.portal_id!r} is already being crawled by process {lock.pid} "
        f"on host {lock.hostname} since {lock.acquired_at} (run {lock.run_id}, "
        f"last heartbeat {lock.heartbeat_at}); try again when that crawl has finished"
    )


def _owns(lock: CrawlLock, holder: Holder) -> bool:
    return (lock.run_id, lock.pid, lock.hostname) == (
        holder.run_id,
        holder.pid,
        holder.hostname,
    )


def acquire(session: Session, portal_id: str, holder: Holder, now: str, stale_after: float) -> bool:
    """Take the lock for `holder`; True when a stale lock was taken over.

    Raises LockHeld when a live holder (not this one) has it. Must run in a write
    transaction so that checking and taking are one step.
    """
    mine = {
        "run_id": holder.run_id,
        "pid": holder.pid,
        "hostname": holder.hostname,
        "acquired_at": now,
        "heartbeat_at": now,
    }
    # Insert-or-nothing first: of several crawls starting at once, one inserts and the
    # others (on PostgreSQL: once it has committed) find its row, never a key clash.
    insert = dialect_insert(session.get_bind().dialect.name, CrawlLock).values(
        portal_id=portal_id, **mine
    )
    inserted = session.execute(insert.on_conflict_do_nothing(index_elements=["portal_id"]))
    if inserted.rowcount == 1:
        return False
    # Locked: a crawl taking a stale lock over at the same moment waits, then sees ours.
    lock = session.scalars(
        select(CrawlLock).where(CrawlLock.portal_id == portal_id).with_for_update()
    ).first()
    if lock is None:
        # Its holder released it between our two statements: it is free.
        session.execute(insert)
        return False
    taken_over = False
    if _owns(lock, holder):
        pass  # re-acquiring our own lock just refreshes it
    elif is_stale(lock, now, stale_after):
        taken_over = True
    else:
        raise LockHeld(held_message(lock))
    for name, value in mine.items():
        setattr(lock, name, value)
    return taken_over


def beat(session: Session, portal_id: str, holder: Holder, now: str) -> None:
    lock = session.get(CrawlLock, portal_id)
    if lock is None:
        raise ArchiveError(f"the lock of portal {portal_id!r} is not held by anyone")
    if not _owns(lock, holder):
        # Our lock went stale and another crawl took it: we must stop.
        raise LockHeld(held_message(lock))
    lock.heartbeat_at = now


def release(session: Session, portal_id: str, holder: Holder) -> None:
    session.execute(
        delete(CrawlLock).where(
            CrawlLock.portal_id == portal_id,
            CrawlLock.run_id == holder.run_id,
            CrawlLock.pid == holder.pid,
            CrawlLock.hostname == holder.hostname,
        )
    )


def interrupt_stale(session: Session, portal_id: str, now: str) -> int:
    """Mark the portal's runs left "running" by a process that is gone as "interrupted".

    Their counters are filled in from what they stored, since a killed crawl never
    reported them.
    """
    lock = session.get(CrawlLock, portal_id)
    live_run = None
    if lock is not None and not is_stale(lock, now, DEFAULT_STALE_AFTER):
        live_run = lock.run_id
    runs = session.scalars(
        select(CrawlRun).where(
            CrawlRun.portal_id == portal_id,
            CrawlRun.status == "running",
            CrawlRun.id != live_run if live_run is not None else true(),
        )
    ).all()
    for run in runs:
        run.status = "interrupted"
        run.message = f"the crawl process ended without finishing this run (noticed {now})"
        stored = _stored_counts(session, run.id)
        run.new = max(run.new or 0, stored["new"])
        run.changed = max(run.changed or 0, stored["changed"])
        run.removed = max(run.removed or 0, stored["removed"])
    return len(runs)


def _stored_counts(session: Session, run_id: int) -> dict[str, int]:
    revisions = dict(
        session.execute(
            select(ArticleRevision.reason, func.count())
            .where(ArticleRevision.run_id == run_id)
            .group_by(ArticleRevision.reason)
        ).all()
    )
    removed = session.scalar(
        select(func.count())
        .select_from(ArticleEvent)
        .where(ArticleEvent.run_id == run_id, ArticleEvent.kind == "removed")
    )
    return {
        "new": revisions.get("new", 0),
        "changed": revisions.get("edit", 0),
        "removed": removed or 0,
    }
