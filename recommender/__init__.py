"""Corridor: European-Korean defence and dual-use partnership recommender (the pure core)."""

__version__ = "0.1.0"
