"""--max-usd: what the run has spent (replays, judging, calls in doubt) and the reservations that
keep the calls in flight from crossing it."""

from __future__ import annotations

import threading
from decimal import Decimal
from typing import TYPE_CHECKING

from costlab.replay.interrupts import Stopper

if TYPE_CHECKING:
    from costlab.store import Store


class Budget:
    """--max-usd over the run's spend (replays, judging and calls in doubt), shared by the threads.

    Each call (or judged answer) reserves its worst case before it starts, and one worst case more
    before each retry after an attempt in doubt (Slot.more), and settles at its real cost (plus its
    attempts in doubt) once written. One that could cross the budget waits while others are
    unsettled (they may cost less than reserved); if it still does not fit, the budget stops: it and
    everything after it are left (not_sent, or not judged); a retry that does not fit is not made. A
    worst case of None (no price) never starts under a budget.
    """

    def __init__(self, max_usd: Decimal | None, spent: Decimal):
        self.max_usd = max_usd
        self.spent = spent
        self.reserved = Decimal(0)
        self.unsettled = 0
        self.retrying = 0  # of the unsettled, the calls waiting to reserve a retry
        self.stopped = False
        self.cond = threading.Condition()

    def fits(self, worst: Decimal | None) -> bool:
        """Call with cond held."""
        return self.max_usd is None or (worst is not None and self.spent + self.reserved + worst <= self.max_usd)

    def take(self, worst: Decimal | None) -> None:
        """Call with cond held, after fits()."""
        self.reserved += worst or Decimal(0)
        self.unsettled += 1

    def settle(self, reserved: Decimal, cost: Decimal, n: int) -> None:
        with self.cond:
            self.spent += cost
            self.reserved -= reserved
            self.unsettled -= n
            self.cond.notify_all()


class Slot:
    """One item's share of the budget (dispatch makes one for each item it starts, and settles what
    it reserved): its worst case, and one worst case more for each retry after an attempt in doubt."""

    def __init__(self, budget: Budget, stopper: Stopper, worst: Decimal | None):
        self.budget = budget
        self.stopper = stopper
        self.worst = worst
        self.reserved = worst or Decimal(0)

    def more(self, worst: Decimal | None) -> bool:
        """Reserve one more attempt's worst case, waiting while other calls may settle for less than
        they reserved. False (nothing reserved) when it cannot fit, or the run was interrupted."""
        b = self.budget
        with b.cond:
            b.retrying += 1
            try:
                while not self.stopper.aborted.is_set():
                    if b.fits(worst):
                        b.reserved += worst or Decimal(0)
                        self.reserved += worst or Decimal(0)
                        return True
                    if b.unsettled <= b.retrying:  # every call not yet settled waits for a retry: none will settle
                        return False
                    b.cond.wait(0.05)
                return False
            finally:
                b.retrying -= 1


def spent(store: "Store", run: str) -> Decimal:
    """The run's replay spend (judging apart)."""
    return store.scalar("select coalesce(sum(cost_usd), 0)::DECIMAL(18,9) from replays where run = ?", [run])


def judge_spent(store: "Store", run: str) -> Decimal:
    """The run's judge spend (judgements.judge_cost_usd)."""
    return store.scalar("select coalesce(sum(judge_cost_usd), 0)::DECIMAL(18,9) from judgements where run = ?", [run])


def in_doubt_spent(store: "Store", run: str) -> Decimal:
    """The worst case of the run's calls in doubt (replays and judge calls): maybe billed, never seen answered."""
    return store.scalar("""select (select coalesce(sum(in_doubt_usd), 0) from replays where run = $1)
                                  + (select coalesce(sum(in_doubt_usd), 0) from judgements where run = $1)""", [run])


def budget_spent(store: "Store", run: str) -> Decimal:
    """What counts against --max-usd: the replay spend, the judge spend (booked apart, capped together)
    and the calls in doubt at their worst case."""
    return spent(store, run) + judge_spent(store, run) + in_doubt_spent(store, run)
