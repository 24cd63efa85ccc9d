"""Metrics over feature arrays (or 2-D points, or a generator): each module computes one family of numbers
and declares how to read them (its `METRICS`, collected by bench/measurement/catalog.py)."""
