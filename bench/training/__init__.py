"""The train stage: a resolved run + results/data/<dataset> -> results/<run>/train/ (config.json, the
checkpoint: networks, optimizers, RNG states, progress; curve.json with the losses; curve_samples.npz;
cost.json: wall seconds, device, FLOPs, peak memory; progress.json).

loop.py is the budgeted, resumable loop every run shares; tasks/ holds the task kinds (what one step
does); objective.py, losses.py and regularizers.py the math of one step; options.py the named options
(`+hinge`, `+r1`, ...); ema.py, flops.py and snapshots.py the loop's helpers.
"""
