"""The deterministic demo data of `source.generate` (FORMAT.md): the "orders" table.

Every value of row i is a pure function of (seed, i, column): a splitmix64 hash of a uint64
counter, vectorised in NumPy. So any chunk of the table is computed on its own and the chunks
concatenate to exactly the whole table, whatever the split and whatever `rows` is.

Duplicates: row i > 0 is a duplicate with probability 2% and then copies its *origin*, found by
following src(i) = i - 1 - (hash % min(i, 5000)) until it reaches a row that is not a duplicate
(each step goes strictly down and row 0 is never a duplicate, so this ends, vectorised). A
duplicate repeats every column of its origin, order_id included. `ts` is datetime64[us] (what
pandas 3 parses timestamps to), whole seconds in 2024; the text columns are pandas' `str` dtype.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa

from .io import ORDERS_COLUMNS  # the schema the spec declares; defined once, with the spec

__all__ = ["ORDERS_COLUMNS", "orders"]

_M64 = (1 << 64) - 1
_GOLDEN = 0x9E3779B97F4A7C15
_DUP_RATE, _DUP_WINDOW = 0.02, 5000
_YEAR_START_US = int(np.datetime64("2024-01-01T00:00:00", "us").astype(np.int64))
_YEAR_SECONDS = 366 * 86_400  # 2024 is a leap year

# Stream ids: each column draws from its own hash stream (never renumber: it changes the data).
_DUP, _TS, _CUSTOMER, _REGION, _QUANTITY, _PRICE, _COMMENT = range(7)

_NAMES = (
    "Acme Corp", "Globex", "Initech", "Umbrella Ltd", "Stark Industries", "Wayne Enterprises",
    "Hooli", "Vandelay Imports", "Soylent Co", "Tyrell Corp", "Cyberdyne Systems", "Wonka Sweets",
    "Oscorp", "Gringotts Bank", "Monarch Solutions", "Dunder Mifflin", "Pied Piper", "Nakatomi Trading",
    "Blue Sun", "Aperture Labs", "Black Mesa", "Massive Dynamic", "Prestige Worldwide", "Bluth Company",
    "Sterling Cooper", "Los Pollos Hermanos", "Krusty Krab", "Planet Express", "Duff Brewery", "Ollivanders",
    "Cafe Nord", "Smith & Sons", "Jane Doe", "John Smith", "Maria Garcia", "Wei Zhang", "Ana Souza",
    "Olga Ivanova", "Ahmed Khan", "Yuki Tanaka", "Emma Muller", "Lars Nilsen", "Priya Patel",
    "Tom O'Brien", "Lucia Rossi", "Kofi Mensah", "Sofia Lopez", "Noah Cohen", "Eva Novak", "Omar Haddad",
)  # fmt: skip
_REGIONS = ("north", "south", "east", "west", "central")
_WORDS = (
    ("please", "urgent", "gift", "fragile", "late", "express", "repeat", "new", "bulk", "sample"),
    ("delivery", "order", "package", "invoice", "customer", "wrapping", "box", "shipment", "return"),
    ("asap", "today", "to office", "at door", "before noon", "with care", "ok", "thanks", "again"),
)


def _mix(z: np.ndarray) -> np.ndarray:
    """The splitmix64 finaliser on a uint64 array (wraps silently, as arrays do)."""
    for shift, factor in ((30, 0xBF58476D1CE4E5B9), (27, 0x94D049BB133111EB)):
        z ^= z >> np.uint64(shift)  # in place: fewer fresh pages, the main cost at 2M rows
        z *= np.uint64(factor)
    z ^= z >> np.uint64(31)
    return z


def _mix_int(z: int) -> int:
    """_mix for one Python int, for stream keys and the import-time tables."""
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & _M64
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & _M64
    return z ^ (z >> 31)


def _hash(rows: np.ndarray, seed: int, stream: int) -> np.ndarray:
    """64 random bits per row position: a pure function of (seed, row, stream)."""
    key = _mix_int((_mix_int(seed & _M64) + stream * _GOLDEN) & _M64)
    z = rows.astype(np.uint64)
    z *= np.uint64(_GOLDEN)
    z += np.uint64(key)
    return _mix(z)


def _field(h: np.ndarray, lo: int, width: int) -> np.ndarray:
    """Bits lo..lo+width-1 of h as int64: each column splits its 64 bits into independent fields."""
    field = h >> np.uint64(lo)
    field &= np.uint64((1 << width) - 1)
    return field.view(np.int64)  # width <= 62: the view is exact


def _pick(h: np.ndarray, lo: int, width: int, n: int | np.ndarray) -> np.ndarray:
    """An integer in [0, n) from a bit field (multiply-shift: no slow modulo; n * 2**width < 2**63)."""
    field = _field(h, lo, width)
    field *= n
    field >>= width
    return field


def _chance(h: np.ndarray, lo: int, width: int, p: float) -> np.ndarray:
    """True with probability p, from a bit field."""
    return _field(h, lo, width) < int(p * (1 << width))


def _dup_source(rows: np.ndarray, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Whether each row is a duplicate, and the (earlier) row it would copy."""
    h = _hash(rows, seed, _DUP)
    dup = (rows > 0) & _chance(h, 0, 32, _DUP_RATE)
    return dup, rows - 1 - _pick(h, 32, 30, np.minimum(np.maximum(rows, 1), _DUP_WINDOW))


def _origins(rows: np.ndarray, seed: int) -> np.ndarray:
    """The original row each row shows: itself, or for a duplicate the first non-duplicate up its chain."""
    dup, src = _dup_source(rows, seed)
    origin = np.where(dup, src, rows)
    pending = np.flatnonzero(dup)
    while pending.size:  # chains are short: P(length > k) = 0.02**k
        dup, src = _dup_source(origin[pending], seed)
        pending = pending[dup]
        origin[pending] = src[dup]
    return origin


def _variants(name: str) -> list[str]:
    """Messy spellings of a name that lower + strip + removing [^a-z0-9 ] collapse to one."""
    cases = (name, name.lower(), name.upper(), name.title(), name[:1].lower() + name[1:].upper())
    out = [name]  # index 0 (the clean spelling) is drawn half of the time
    for case in cases:
        for pre in ("", " ", "  "):
            out += [pre + case + post for post in ("", " ", ".", "!!", "!! ", ".  ", ",")]
    return out


def _comments(n: int) -> list[str]:
    """n short free-text comments from the word lists, with mixed case, spaces and punctuation."""
    out = []
    for k in range(n):
        h = _mix_int(k * _GOLDEN + 0x5EED)
        words = [w[(h >> (8 * j)) % len(w)] for j, w in enumerate(_WORDS)][: 1 + (h >> 24) % 3]
        text = ("  " if (h >> 30) % 5 == 0 else " ").join(words)
        text = (text.upper(), text.capitalize(), text, text.title())[(h >> 33) % 4]
        text += ("", "", "!", "?", "...", "!!", ".")[(h >> 36) % 7]
        out.append((" ", "", "", "")[(h >> 40) % 4] + text + ("  ", "", "")[(h >> 44) % 3])
    return out


_CUSTOMER_TABLE = [_variants(name) for name in _NAMES]
_CUSTOMERS = pa.array([v for vs in _CUSTOMER_TABLE for v in vs], pa.large_string())
_N_VARIANTS = len(_CUSTOMER_TABLE[0])
_REGION_ARRAY = pa.array(_REGIONS, pa.large_string())
_COMMENT_ARRAY = pa.array(["", *_comments(511)], pa.large_string())  # index 0: the empty string


def _text(table: pa.Array, index: np.ndarray, missing: np.ndarray) -> pd.api.extensions.ExtensionArray:
    """A `str` column by one Arrow take over a small table (25x faster than via Python objects)."""
    return pd.array(table.take(pa.array(index, mask=missing)), dtype="str")


def orders(rows: int, seed: int, start: int = 0, stop: int | None = None) -> pd.DataFrame:
    """Rows [start, stop) of the `rows`-row orders table for `seed` (stop defaults to rows; clipped to rows).

    `start` is clipped to [0, rows] and `stop` to [start, rows]; the index is RangeIndex(start, stop).
    """
    if rows < 0:
        raise ValueError(f"rows must be >= 0, got {rows}")
    start = min(max(start, 0), rows)
    stop = min(max(rows if stop is None else stop, start), rows)
    r = _origins(np.arange(start, stop, dtype=np.int64), seed)

    h = _hash(r, seed, _TS)
    ts = (_YEAR_START_US + _pick(h, 0, 32, _YEAR_SECONDS) * 1_000_000).view("datetime64[us]")

    h = _hash(r, seed, _CUSTOMER)  # bits: 0-15 missing, 16-31 name, 32 clean?, 40-55 variant
    u = _field(h, 16, 16)
    name = (u * u * len(_NAMES)) >> 32  # skewed: a few customers order most
    variant = np.where(_field(h, 32, 1) == 0, 0, _pick(h, 40, 16, _N_VARIANTS))
    customer = _text(_CUSTOMERS, name * _N_VARIANTS + variant, _chance(h, 0, 16, 0.01))

    h = _hash(r, seed, _REGION)  # bits: 0-31 missing, 32-63 region
    region = _text(_REGION_ARRAY, _pick(h, 32, 32, len(_REGIONS)), _chance(h, 0, 32, 0.01))

    h = _hash(r, seed, _QUANTITY)  # bits: 0-31 missing / return, 32-47 quantity, 48-63 return size
    quantity = (1 + _pick(h, 32, 16, 20)).astype(np.float64)
    returns = _chance(h, 0, 32, 0.04)
    quantity[returns] = -_pick(h[returns], 48, 16, 4).astype(np.float64)  # 0, -1, -2, -3
    quantity[_chance(h, 0, 32, 0.03)] = np.nan  # the first 3 of those 4%: 1% returns remain

    h = _hash(r, seed, _PRICE)  # bits: 0-20 and 21-41 two uniforms, 42-63 missing
    cents = 50 + (_pick(h, 0, 21, 49_951) * _pick(h, 21, 21, 49_951)) // 49_950  # 50..50000, skewed low
    price = cents / 100.0  # correctly rounded: the float nearest the 2-decimal value
    price[_chance(h, 42, 22, 0.03)] = np.nan

    h = _hash(r, seed, _COMMENT)  # bits: 0-31 missing, 32-47 empty?, 48-63 text
    pick = np.where(_pick(h, 32, 16, 25) == 0, 0, 1 + _pick(h, 48, 16, len(_COMMENT_ARRAY) - 1))
    comment = _text(_COMMENT_ARRAY, pick, _chance(h, 0, 32, 0.20))

    frame = pd.DataFrame(
        {
            "order_id": r + 1,
            "ts": ts,
            "customer": customer,
            "region": region,
            "quantity": quantity,
            "price": price,
            "comment": comment,
        },
        index=pd.RangeIndex(start, stop),
    )
    return frame
