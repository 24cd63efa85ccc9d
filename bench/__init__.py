"""gan-bench, the harness: laid out as the pipeline, one subpackage per stage group in data-flow order.

    protocol/     params.yaml + pipelines/*.yaml -> checked settings, run ids, resolved runs, dvc.yaml files
    data/         prepare@dataset: results/data/<dataset>/ (uint8 arrays + checksums)
    training/     train@run: results/<run>/train/ (checkpoint, curve, cost); loop, task kinds, losses, ...
    measurement/  classifier@dataset, reference@dataset, evaluate@run: results/<run>/eval/metrics.json
    tables/       aggregate: results/tables/ (statistics over seeds, comparisons, study tables)
    report/       report: reports/ (static HTML)

Each subpackage's docstring says what its stages read and write. `cli.py` is the one command line.
Imports go downstream-to-upstream only (a stage may use an earlier one's code, never a later one's),
and `models/` (the variants) imports nothing of the harness.
"""
