"""Every paid call of a run goes through `dispatch`: worker threads within the limiter and the budget,
results written on the calling thread (the store's), one transaction per turn."""

from __future__ import annotations

import queue
import threading
import time
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Callable

from costlab.replay.budget import Budget, Slot
from costlab.replay.interrupts import Stopper
from costlab.replay.limiter import Limiter

WRITE_EVERY = 0.2  # seconds: results are written at least this often while they arrive


@dataclass
class Dispatched:
    left: list  # the items never started, in order
    budget_stop: bool  # the budget stopped them (else an interrupt, an account error, or nothing left)


def dispatch(items: list[tuple[Any, Decimal | None]], work: Callable[[Any, Slot], Any],
             write: Callable[[list[tuple[Any, Decimal | None, Any]]], Decimal], limiter: Limiter, budget: Budget,
             stopper: Stopper, name: str = "costlab-replay") -> Dispatched:
    """Run `work(item, slot)` for each (item, worst case) on worker threads, within the limiter and the
    budget (the slot holds the item's reservation: its worst case, and more for its retries), and
    `write(done)`, done being (item, worst, result), on this thread (the store's) for what they
    return, grouped per WRITE_EVERY; `write` returns what the batch cost (spend and in doubt) and the
    budget settles at it, releasing what the items reserved.

    Every paid call goes through here (replays and judge calls): so an interrupt stops new calls at
    once, what was answered is written even after it, and a budget waiter is never left waiting for
    a writer that stopped. Worker threads are daemons: abandoning them never holds up the exit.
    """
    pending = list(reversed(items))
    results: queue.Queue = queue.Queue()
    cond = budget.cond
    state = {"inflight": 0}

    def next_item() -> tuple[Any, Decimal | None] | None:
        with cond:
            while True:
                if stopper.aborted.is_set() or budget.stopped or not pending:
                    return None
                if limiter.can_start(state["inflight"]):
                    item, worst = pending[-1]
                    if not budget.fits(worst):
                        if budget.unsettled == 0:
                            budget.stopped = True
                            cond.notify_all()
                            return None
                        cond.wait(0.05)  # what is in flight or unwritten may cost less than reserved
                        continue
                    pending.pop()
                    state["inflight"] += 1
                    budget.take(worst)
                    return item, worst
                cond.wait(0.01)

    def worker() -> None:
        while (got := next_item()) is not None:
            item, worst = got
            slot = Slot(budget, stopper, worst)
            try:
                result = work(item, slot)
            except BaseException as ex:  # a bug: raised on the writer's thread, after writing what arrived
                result = _Crash(ex)
            results.put((item, slot, result))
            with cond:
                state["inflight"] -= 1
                cond.notify_all()

    threads = [threading.Thread(target=worker, name=f"{name}-{i}", daemon=True) for i in range(limiter.maximum)]
    for t in threads:
        t.start()
    crash: BaseException | None = None
    buffered: list = []
    last = time.monotonic()
    left: list = []
    try:
        while True:
            alive = any(t.is_alive() for t in threads)
            buffered += _drain(results, timeout=0.02)
            # Group what arrives within WRITE_EVERY seconds into one transaction: each costs a few ms of
            # the CPU the calls need; the journal keeps the calls safe in between.
            if buffered and (time.monotonic() - last >= WRITE_EVERY or len(buffered) >= 256 or not alive
                             or stopper.aborted.is_set()):
                done = [(item, slot.worst, r) for item, slot, r in buffered if not isinstance(r, _Crash)]
                if crash is None and len(done) < len(buffered):
                    crash = next(d[2].ex for d in buffered if isinstance(d[2], _Crash))
                    stopper.abort()  # no new call after a bug; what was answered is still written
                cost = write(done) if done else Decimal(0)
                budget.settle(sum((slot.reserved for _, slot, _ in buffered), Decimal(0)), cost, len(buffered))
                buffered = []
                last = time.monotonic()
            if not alive and results.empty() and not buffered:
                break
            if stopper.abandoned.is_set() and results.empty() and not buffered:
                break  # the calls still in flight stay in the journal: in doubt on resume
    finally:
        with cond:
            left = [item for item, _ in reversed(pending)]
            pending.clear()  # a thread still waiting for a slot (or the budget) starts nothing now
            cond.notify_all()
    if crash is not None:
        raise crash
    return Dispatched(left, budget.stopped and bool(left))


@dataclass
class _Crash:
    ex: BaseException


def _drain(results: queue.Queue, timeout: float) -> list:
    items = []
    try:
        items.append(results.get(timeout=timeout) if timeout else results.get_nowait())
        while True:
            items.append(results.get_nowait())
    except queue.Empty:
        pass
    return items
