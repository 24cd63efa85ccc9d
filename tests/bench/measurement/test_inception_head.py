"""The Inception classifier head for IS: file checks, the download path, and IS only where it is real."""

import hashlib

import numpy as np
import pytest
import torch
from scipy.special import softmax

from bench.measurement import inception_head
from bench.measurement.scoring import MetricSettings, score_features
from bench.protocol.errors import HeadError


@pytest.fixture(scope="module")
def head_file(tmp_path_factory):
    """A file shaped like torch-fidelity's Inception weights (random values) and its sha256 prefix."""
    path = tmp_path_factory.mktemp("head") / "weights.pth"
    generator = torch.Generator().manual_seed(0)
    torch.save({"fc.weight": torch.randn(1008, 2048, generator=generator) * 0.01,
                "fc.bias": torch.randn(1008, generator=generator)}, path)
    return path, hashlib.sha256(path.read_bytes()).hexdigest()[:8]


def test_loads_the_weight_matrix_after_checking_the_hash(head_file):
    path, prefix = head_file
    weight = inception_head.load_head(path, prefix)
    assert weight.shape == (1008, 2048) and weight.dtype == np.float64
    wrong = "0" * 8 if prefix != "0" * 8 else "1" * 8
    with pytest.raises(HeadError, match="gbench fetch-inception-head"):
        inception_head.load_head(path, wrong)


def test_file_without_fc_weight_is_refused(tmp_path):
    path = tmp_path / "other.pth"
    torch.save({"conv.weight": torch.zeros(2, 2)}, path)
    with pytest.raises(HeadError, match="fc.weight"):
        inception_head.load_head(path, hashlib.sha256(path.read_bytes()).hexdigest()[:8])


def test_probabilities_are_the_softmax_of_the_unbiased_logits(head_file):
    path, prefix = head_file
    weight = inception_head.load_head(path, prefix)
    features = np.random.default_rng(0).random((5, 2048)) * 3
    expected = softmax(features @ weight.T, axis=1)
    np.testing.assert_allclose(inception_head.class_probabilities(features, weight), expected, rtol=1e-12)


def test_download_path_checks_the_hash(head_file, tmp_path, loopback_server):
    served, url = loopback_server
    path, prefix = head_file
    (served / "head.pth").write_bytes(path.read_bytes())
    fetched = inception_head.fetch_head(url + "head.pth", tmp_path / "cache" / "head.pth", prefix)
    assert fetched.read_bytes() == path.read_bytes()
    with pytest.raises(RuntimeError, match="invalid hash value"):
        inception_head.fetch_head(url + "head.pth", tmp_path / "bad.pth", "deadbeef")
    assert not (tmp_path / "bad.pth").exists()


def test_lookup_honours_the_environment_and_explains_what_is_missing(tmp_path, monkeypatch):
    monkeypatch.setenv(inception_head.ENV, str(tmp_path / "absent.pth"))
    assert inception_head.find_head() is None
    reason = inception_head.unavailable_reason()
    assert "absent.pth" in reason and "gbench fetch-inception-head" in reason
    (tmp_path / "absent.pth").write_bytes(b"x")
    assert inception_head.find_head() == tmp_path / "absent.pth"


def test_inception_score_is_reported_only_with_the_head(head_file):
    rng = np.random.default_rng(1)
    gen, ref = {"features": rng.random((40, 2048))}, {"features": rng.random((40, 2048))}
    settings = MetricSettings(which=("is",))
    metrics, spec = score_features("inception", gen, ref, settings, head_missing="no head here")
    assert metrics["is"] is None and spec["is"] == {"available": False, "reason": "no head here"}
    path, prefix = head_file
    metrics, spec = score_features("inception", gen, ref, settings, head=inception_head.load_head(path, prefix))
    assert spec["is"]["available"] and spec["is"]["splits"] == 10 and 1.0 <= metrics["is"] <= 1008
