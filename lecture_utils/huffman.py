"""Huffman coding (C15): frequent symbols get short codes, rare ones long codes.

Built the textbook way: put every symbol in a heap by count, join the two rarest into
one node until one tree is left; a symbol's code is its path from the root (0 left,
1 right). No code is a prefix of another, so a bit string decodes unambiguously.
"""
from __future__ import annotations

import heapq
from collections import Counter

import numpy as np

from .measure import fixed_length_bits  # noqa: F401  (its home is measure; imported from here too)


def huffman_code(symbols) -> dict:
    """The code table ``{symbol: '0110', ...}`` for the symbols' frequencies in ``symbols``.

    Deterministic: ties are broken by the order in which the symbols are first seen.
    A single distinct symbol gets the one-bit code '0'.
    """
    counts = Counter(symbols)
    if not counts:
        raise ValueError("cannot build a Huffman code for no symbols")
    if len(counts) == 1:
        return {next(iter(counts)): "0"}
    # heap entries: (count, tie-breaker, {symbol: code so far})
    heap = [(count, i, {symbol: ""}) for i, (symbol, count) in enumerate(counts.items())]
    heapq.heapify(heap)
    tie = len(heap)
    while len(heap) > 1:
        c0, _, left = heapq.heappop(heap)
        c1, _, right = heapq.heappop(heap)
        merged = {s: "0" + code for s, code in left.items()}
        merged.update({s: "1" + code for s, code in right.items()})
        heapq.heappush(heap, (c0 + c1, tie, merged))
        tie += 1
    return heap[0][2]


def huffman_encode(symbols, code: dict) -> tuple[bytes, int]:
    """The symbols' codes one after the other, packed into bytes; returns ``(data, number_of_bits)``."""
    bits = "".join(code[s] for s in symbols)
    array = np.frombuffer(bits.encode("ascii"), dtype=np.uint8) - ord("0")
    return np.packbits(array).tobytes(), len(bits)


def huffman_decode(data: bytes, num_bits: int, code: dict) -> list:
    """Read the bits and emit a symbol each time the bits read so far form a code."""
    decode = {c: s for s, c in code.items()}
    bits = np.unpackbits(np.frombuffer(data, dtype=np.uint8))[:num_bits]
    out, current = [], ""
    for bit in bits.tolist():
        current += "1" if bit else "0"
        if current in decode:
            out.append(decode[current])
            current = ""
    if current:
        raise ValueError("the bits end in the middle of a code: data and code table do not match")
    return out


def entropy_bits(symbols) -> float:
    """Shannon entropy H = -sum p log2 p of the symbols' frequencies: no code averages fewer bits."""
    counts = np.array(list(Counter(symbols).values()), dtype=np.float64)
    p = counts / counts.sum()
    return float(-(p * np.log2(p)).sum())


def average_code_length(symbols, code: dict) -> float:
    """Bits per symbol of ``code`` on ``symbols``."""
    counts = Counter(symbols)
    return sum(counts[s] * len(code[s]) for s in counts) / sum(counts.values())


def kraft_sum(code: dict) -> float:
    """sum 2^-len(code): at most 1 for any prefix code (Kraft's inequality), 1 for Huffman's."""
    return sum(2.0 ** -len(c) for c in code.values())


def canonical_code(lengths: dict) -> dict:
    """The canonical prefix code with the given code lengths ``{symbol: bits}``.

    Only the lengths need storing (one small number per symbol): sort the symbols by
    (length, symbol); the first gets all zeros, each next one the previous code plus one,
    shifted left when the length grows. Huffman's lengths give a code exactly as short.
    """
    if not lengths:
        raise ValueError("cannot build a code for no symbols")
    if any(not isinstance(n, int) or n < 1 for n in lengths.values()):
        raise ValueError(f"code lengths must be whole numbers >= 1, got {sorted(set(lengths.values()))}")
    if kraft_sum({s: "0" * n for s, n in lengths.items()}) > 1:
        raise ValueError("these code lengths cannot make a prefix code: the sum of 2^-length is above 1")
    code, value, previous = {}, 0, None
    for symbol, length in sorted(lengths.items(), key=lambda item: (item[1], item[0])):
        if previous is not None:
            value = (value + 1) << (length - previous)
        code[symbol] = format(value, f"0{length}b")
        previous = length
    return code
