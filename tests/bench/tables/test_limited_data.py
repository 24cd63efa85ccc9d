"""The limited-data table: cells per backbone x method x size, the change against the baseline with its Welch
test, the direction verdict, ADA's p from the training curves, and the published rows beside them."""

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from bench.protocol.io import write_json
from bench.tables.limited_data import limited_data_tables, split_method

STUDIES = {"limited-data": {"kind": "limited-data", "title": "t", "versus": None, "datasets": {
    "fmnist32-n100": ["dcgan", "dcgan+ada", "dcgan+diffaug"], "fmnist32": ["dcgan", "dcgan+ada", "dcgan+diffaug"]}}}
FID = {  # dataset -> variant -> per-seed domain FID: augmentation helps at 100 images, not at 60k
    "fmnist32-n100": {"dcgan": [300.0, 310.0, 320.0], "dcgan+ada": [200.0, 205.0, 210.0],
                      "dcgan+diffaug": [290.0, 330.0, 305.0]},
    "fmnist32": {"dcgan": [100.0, 102.0, 104.0], "dcgan+ada": [101.0, 99.0, 106.0],
                 "dcgan+diffaug": [110.0, 111.0, 112.0]},
}


def _runs(tmp_path):
    rows = []
    for dataset, per_variant in FID.items():
        for variant, values in per_variant.items():
            for seed, value in enumerate(values):
                losses = f"results/{dataset}/{variant}/s{seed}/train/curve.json"
                if variant.endswith("+ada"):  # p rises to a size-dependent level
                    final = 0.5 if dataset == "fmnist32-n100" else 0.1
                    write_json(tmp_path / losses, {"points": [{"kimg": 0.0}, {"kimg": 5.0, "ada_p": final / 2},
                                                              {"kimg": 10.0, "ada_p": final + 0.01 * seed}]})
                rows.append({"study": "limited-data", "dataset": dataset, "variant": variant, "seed": seed,
                             "diverged": False, "fid_domain": value, "fid": np.nan, "kid_domain": value / 1e4,
                             "data_copying_domain": 0.0, "leak_ada_domain": 0.01, "leak_diffaug_domain": 0.02,
                             "losses": losses, "samples": None})
    rows.append({**rows[0], "seed": 9, "diverged": True, "fid_domain": np.nan})
    return pd.DataFrame(rows)


def _method(table, method):
    (backbone,) = table["limited-data"]["backbones"]
    assert backbone["backbone"] == "dcgan"
    return next(m for m in backbone["methods"] if m["method"] == method)


def test_split_method_keeps_non_augmentation_options_in_the_backbone():
    augmentations = {"ada", "diffaug", "ada-fixed-p"}
    assert split_method("dcgan+sn+ada", augmentations) == ("dcgan+sn", "+ada")
    assert split_method("stylegan2", augmentations) == ("stylegan2", "baseline")


def test_cells_changes_and_welch_test_per_size(tmp_path):
    table = limited_data_tables(_runs(tmp_path), STUDIES, tmp_path)
    entry = table["limited-data"]
    assert [s["size"] for s in entry["sizes"]] == [100, 60000]
    baseline, ada = _method(table, "baseline"), _method(table, "+ada")
    small = baseline["cells"][0]
    assert small["size"] == 100 and small["diverged"] == 1
    assert small["metrics"]["fid_domain"]["mean"] == pytest.approx(310.0)
    fid = small["metrics"]["fid_domain"]
    assert fid["std"] == pytest.approx(10.0) and fid["n_seeds"] == 3
    assert baseline["changes"] == []
    change = ada["changes"][0]["change"]
    assert change["diff"] == pytest.approx(205.0 - 310.0)
    p = stats.ttest_ind(FID["fmnist32-n100"]["dcgan+ada"], FID["fmnist32-n100"]["dcgan"], equal_var=False).pvalue
    assert change["p"] == pytest.approx(p) and change["separable"] and change["ci_high"] < 0
    assert not ada["changes"][1]["change"]["separable"]
    assert ada["changes"][0]["leak"]["leak_ada_domain"]["diff"] == pytest.approx(0.0)  # the same leak as the baseline


def test_direction_verdict_reads_the_smallest_against_the_full_size(tmp_path):
    table = limited_data_tables(_runs(tmp_path), STUDIES, tmp_path)
    ada, diffaug = _method(table, "+ada"), _method(table, "+diffaug")
    assert ada["direction"]["larger_gain_at_smallest"] and ada["direction"]["separable_at_smallest"]
    assert ada["direction"]["smallest"] == 100 and ada["direction"]["largest"] == 60000
    assert diffaug["direction"]["larger_gain_at_smallest"] and not diffaug["direction"]["separable_at_smallest"]


def test_ada_p_is_read_from_the_training_curves(tmp_path):
    table = limited_data_tables(_runs(tmp_path), STUDIES, tmp_path)
    ada = _method(table, "+ada")["ada"]
    assert [a["size"] for a in ada] == [100, 60000]
    assert ada[0]["kimg"] == [5.0, 10.0] and ada[0]["p_mean"] == pytest.approx([0.25, 0.51])
    assert ada[0]["final"]["mean"] == pytest.approx(0.51) and ada[1]["final"]["mean"] == pytest.approx(0.11)
    assert _method(table, "baseline")["ada"] == []


def test_published_rows_ride_along_labeled(tmp_path):
    published = limited_data_tables(_runs(tmp_path), STUDIES, tmp_path)["limited-data"]["published"]
    stylegan2 = next(p for p in published if p["dataset"] == "CIFAR-10" and p["model"] == "StyleGAN2")
    assert stylegan2["source"] == "DiffAugment README" and stylegan2["points"][0] == ("10%", 5000, 36.02, 14.50)


@pytest.mark.parametrize(("small", "full", "ci_high", "larger", "verdict"), [
    (15.0, 17.0, 37.0, False, "no gain at the smallest size"),  # worse at both: no gain, however the sizes compare
    (-30.0, -60.0, -10.0, False, "no larger than at the largest"),
    (-30.0, -5.0, -10.0, True, "helps most at the smallest size"),
    (-30.0, -5.0, 4.0, True, "not separable from 0 there"),
])
def test_direction_verdicts(small, full, ci_high, larger, verdict):
    from bench.tables.limited_data import _direction

    def entry(size, diff, high):
        return {"size": size, "change": {"diff": diff, "ci_high": high}}

    found = _direction([entry(100, small, ci_high), entry(60000, full, full + 5)])
    assert found["larger_gain_at_smallest"] is larger and verdict in found["verdict"]
