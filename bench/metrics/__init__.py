"""Metrics over feature arrays (or 2-D points); each module computes one family of numbers."""
