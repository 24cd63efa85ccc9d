"""The checkpoint file and its checksum: replaced as a pair, so a process stopped at any write between them
leaves a checkpoint that loads (the old state or the new one), and a damaged file is refused."""

import hashlib

import pytest
import torch

import bench.training.checkpoint as checkpoint
from bench.training.checkpoint import CHECKPOINT, CorruptCheckpoint, load_checkpoint, save_checkpoint


class Stopped(Exception):
    """The process ends here (a kill, a full disk)."""


def _stopping_at(monkeypatch, write: int) -> None:
    """Let the first `write - 1` atomic writes of save_checkpoint happen, then stop at write number `write`."""
    done = []
    real = {"write_bytes": checkpoint.write_bytes, "write_text": checkpoint.write_text}

    def wrap(name):
        def write_file(path, data):
            done.append(path)
            if len(done) == write:
                raise Stopped(path)
            return real[name](path, data)
        return write_file

    for name in real:
        monkeypatch.setattr(checkpoint, name, wrap(name))


@pytest.mark.parametrize("stop_at", [1, 2, 3])
def test_a_replacement_stopped_at_any_write_leaves_a_loadable_checkpoint(tmp_path, monkeypatch, stop_at):
    path = tmp_path / CHECKPOINT
    old, new = {"step": torch.tensor(1)}, {"step": torch.tensor(2)}
    save_checkpoint(path, old)
    _stopping_at(monkeypatch, stop_at)
    with pytest.raises(Stopped):
        save_checkpoint(path, new)
    monkeypatch.undo()
    loaded = load_checkpoint(path)["step"].item()
    assert loaded == (1 if stop_at <= 2 else 2)  # writes: both hashes listed, the checkpoint, the new hash alone
    save_checkpoint(path, {"step": torch.tensor(3)})  # and the next save completes the pair
    assert load_checkpoint(path)["step"].item() == 3
    assert (tmp_path / (CHECKPOINT + ".sha256")).read_text().split() == [
        hashlib.sha256(path.read_bytes()).hexdigest()]


@pytest.mark.parametrize("stop_at", [1, 2, 3])
def test_a_first_save_stopped_at_any_write_leaves_no_checkpoint_or_a_loadable_one(tmp_path, monkeypatch, stop_at):
    """A run killed while writing its first checkpoint resumes from it or from scratch, never from a checkpoint
    without its checksum (which a resume reports as corrupt and throws away)."""
    path = tmp_path / CHECKPOINT
    _stopping_at(monkeypatch, stop_at)
    with pytest.raises(Stopped):
        save_checkpoint(path, {"step": torch.tensor(1)})
    monkeypatch.undo()
    if stop_at <= 2:  # writes: the new hash, the checkpoint, the new hash alone
        assert not path.exists()
    else:
        assert load_checkpoint(path)["step"].item() == 1
    save_checkpoint(path, {"step": torch.tensor(2)})
    assert load_checkpoint(path)["step"].item() == 2


def test_only_the_listed_hashes_are_accepted(tmp_path):
    path = tmp_path / CHECKPOINT
    save_checkpoint(path, {"step": torch.tensor(1)})
    path.write_bytes(path.read_bytes()[:-1])
    with pytest.raises(CorruptCheckpoint, match="does not match its checksum"):
        load_checkpoint(path)
    (tmp_path / (CHECKPOINT + ".sha256")).unlink()
    with pytest.raises(CorruptCheckpoint, match="has no checksum file"):
        load_checkpoint(path)
