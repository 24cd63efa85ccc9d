"""The protocol: what runs, with which settings, and the DVC pipeline that runs it.

Reads params.yaml (the profiles: bench/protocol/params.py) and the study files pipelines/*.yaml
(bench/protocol/studies.py), checks both against their schemas before any stage runs, and resolves each
run id `study/dataset/variant/sN` into one frozen `ResolvedRun` (bench/protocol/resolve.py: the variant
with its options and sweep sample, its settings, its config hash). Writes the generated
pipelines/<dataset>/dvc.yaml files and the root dvc.yaml (`gbench pipelines`) with exact code
dependencies. Also home to what every stage shares: atomic file writes (io), seed streams and devices
(seeding), the errors a user can fix (errors), and the warm start of stage processes (warm).
"""
