"""The prepare stage: a dataset -> results/data/<dataset>/ (data.npz with the train and eval splits and
their labels, or a 2-D mixture's samples and modes; meta.json with its sha256), read back by every later
stage with the checksum verified."""
