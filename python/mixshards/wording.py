"""How numbers, ranges and image shapes read in messages, as the Swift tools word
them (``Sources/MixCore/Wording.swift``): ``1,024``, ``from 1 to 1,024``, and
``64×48 (width×height, 3 channels)`` — never Swift's ``1...1024`` or ``0..<10``."""

from __future__ import annotations


def grouped(n: int) -> str:
    """``n`` with thousands separators: 65536 → ``65,536``."""
    return f"{n:,}"


def span(lo: int, hi: int) -> str:
    """``from lo to hi``, both included (grouped)."""
    return f"from {lo:,} to {hi:,}"


def image(channels: int, height: int, width: int) -> str:
    """An image shape, width×height first as in every message: ``64×48 (width×height, 3 channels)``."""
    return f"{width:,}×{height:,} (width×height, {channels} channel{'' if channels == 1 else 's'})"
