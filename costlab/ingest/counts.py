"""Token-count arithmetic the format adapters share, as SQL: the one rule for cache writes and their
5-minute/1-hour split (`cache_writes`), and an input count that includes the cache tokens
(`uncached_input`), done only on counts that are whole and in range (`counts_ok`)."""

from __future__ import annotations

from costlab.schema import MAX_TOKENS
from costlab.store.sqlquote import literal

# Token counts an adapter does arithmetic on (cache writes split 5m/1h, an input count that includes
# the cache tokens). Each operand still reaches a canonical count column as the source wrote it, so a
# value that is no count, or past the limit, is rejected there with its own reason: the arithmetic
# runs only when every operand is a whole count in range (it can then never overflow), and a failed
# cast is never read as 0. Only an ABSENT operand counts as 0.

def _n(x: str) -> str:
    return f"try_cast({x} as BIGINT)"


def counts_ok(*xs: str) -> str:
    """SQL: every one of `xs` is absent or a whole count within MAX_TOKENS (true or false, never NULL)."""
    return " and ".join(f"({x} is null or coalesce({_n(x)} between 0 and {MAX_TOKENS}, false))" for x in xs)


NOTE_CACHE_REST = ("the cache-write total exceeded its 5-minute/1-hour split: the rest was billed as "
                   "5-minute writes (attributes.cache_ttl_assumed)")
NOTE_CACHE_SPLIT = "the 5-minute/1-hour split exceeded the cache-write total: the split was billed"


def cache_writes(total: str, w5: str, w1: str) -> tuple[str, str, str]:
    """SQL for (cache_write_5m_tokens, _ttl_assumed, _note) from a source's undivided cache-write
    count `total` and its 5-minute/1-hour split `w5`/`w1` (any of them may be absent; the 1-hour
    value is the cache_write_1h_tokens column as it stands). The rule, for every source:
    no split: the total is 5-minute writes, said so (cache_ttl_assumed). A split that adds up to the
    total (the usual case, settled by the first branches without a cast): as given; only 1h given:
    5m is the rest of the total. A split that adds up to LESS than the total (0/0 next to a total of
    50,000): the rest is 5-minute writes, said so and noted, never dropped. A split that adds up to
    MORE: the split is billed, and noted."""
    split = f"coalesce({_n(w5)}, 0) + coalesce({_n(w1)}, 0)"
    ok = counts_ok(total, w5, w1)
    five = f"""case when {w5} is null and {w1} is null then {total}
             when {total} is null or ({w1} = '0' and {total} = {w5}) then {w5}
             when not ({ok}) then coalesce(case when not ({counts_ok(total)}) then {total} end, {w5})
             when {_n(total)} > {split} then ({_n(total)} - coalesce({_n(w1)}, 0))::VARCHAR
             else {w5} end"""
    assumed = f"""case when {w5} is null and {w1} is null then coalesce({_n(total)}, 0) > 0
             when {total} is null or ({w1} = '0' and {total} = {w5}) or not ({ok}) then false
             else {w5} is not null and {_n(total)} > {split} end"""
    note = f"""case when ({w5} is null and {w1} is null) or {total} is null or ({w1} = '0' and {total} = {w5})
                  or not ({ok}) then NULL
             when {_n(total)} > {split} then case when {w5} is not null then {literal(NOTE_CACHE_REST)} end
             when {_n(total)} < {split} then {literal(NOTE_CACHE_SPLIT)} end"""
    return five, assumed, note


def cache_tokens(cr: str, total: str, w5: str, w1: str) -> str:
    """SQL (BIGINT): cache reads plus the cache writes cache_writes() bills; only where counts_ok()."""
    return (f"(coalesce({_n(cr)}, 0) + case when {w5} is null and {w1} is null then coalesce({_n(total)}, 0) "
            f"else greatest(coalesce({_n(total)}, 0), coalesce({_n(w5)}, 0) + coalesce({_n(w1)}, 0)) end)")


def uncached_input(inp: str, cr: str, total: str, w5: str, w1: str) -> str:
    """SQL (text) for input_tokens from an input count that includes the cache tokens: the input
    less cache_tokens(). When any operand is not a count in range, the input as written (the bad
    operand is rejected by its own column, or the input by input_tokens)."""
    return (f"case when {counts_ok(inp, cr, total, w5, w1)} and {inp} is not null "
            f"then ({_n(inp)} - {cache_tokens(cr, total, w5, w1)})::VARCHAR else {inp} end")
