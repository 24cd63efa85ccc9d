"""The measuring stages and their metrics.

classifier@dataset: results/data -> results/classifier/<dataset>/ (the domain classifier: model.pt,
classifier.json). reference@dataset: the eval split -> results/reference/<dataset>/<backbone>/ (one
feature pass per backbone, computed once). evaluate@run: a finished checkpoint -> results/<run>/eval/
(N samples, ONE feature pass per backbone, every metric, metrics.json with the metric spec, the quality
curve). catalog.py lists every metric with how to read it; metrics/ holds their functions; score.py is
`gbench score` for folders of images made anywhere.
"""
