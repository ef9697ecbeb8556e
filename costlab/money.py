"""Money in exact units: nano-dollars (what costs are stored and simulated in) and dollars.

Costs are DECIMAL(18,9) dollars in the store and int64 nano-dollars in the what-if arrays; rates
are integer femto-dollars per token in SQL (queries/internal/macros.sql `costlab_fusd_to_usd`
rounds them half up to the nano-dollar). Every Python conversion between nano-dollars and dollars,
and every rounding to the nano-dollar, is here, so they all round the same way (half up).
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal
from fractions import Fraction

NANOS_PER_USD = 10**9
NANO = Decimal("0.000000001")  # one nano-dollar: the quantum of every stored cost


def round_half_up(x: Fraction) -> int:
    """An exact rational number of nano-dollars to a whole one, half up (as costlab_fusd_to_usd does)."""
    return int((x * 2 + 1) // 2)


def nusd_to_usd(n: int | Fraction) -> str:
    """Exact nano-dollars as a decimal dollar string with 9 places ('-1.500000000')."""
    v = round_half_up(Fraction(n)) if not isinstance(n, int) else n
    sign = "-" if v < 0 else ""
    v = abs(v)
    return f"{sign}{v // NANOS_PER_USD}.{v % NANOS_PER_USD:09d}"


def nusd_to_decimal(n: int | float | Fraction) -> Decimal:
    """Nano-dollars (exact, or a float from a bootstrap) as Decimal dollars, to the nano-dollar."""
    return Decimal(nusd_to_usd(Fraction(n)))


def to_nano(usd: Decimal | int | float | str) -> Decimal:
    """Dollars rounded half up to the nano-dollar (a stored cost's precision)."""
    return Decimal(str(usd)).quantize(NANO, rounding=ROUND_HALF_UP)
