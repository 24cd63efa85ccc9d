"""The aggregate stage: every results/<run>/eval/metrics.json (+ train cost and config) -> results/tables/
(runs, per-variant statistics over seeds with bootstrap CIs and tied ranks, sweeps, ablations,
comparisons of new methods against the baselines, curves, truncation curves). `gbench compare` reads
the same tables. Published numbers (published.py) are kept apart from ours.
"""
