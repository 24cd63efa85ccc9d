"""The robustness study (Gulrajani et al. 2017, Figure 2): its grid from synthetic runs, the 'trains' rule, and the
page in the paper's layout."""

from bench.report.render import render
from bench.tables.aggregate import aggregate
from tests.bench.tables.test_aggregate_report import _verdict, fake_run

STUDY = """robustness:
  title: Architecture robustness
  kind: robustness
  datasets:
    fmnist32: [arch-b, arch-b+lsgan, arch-b+wgan-gp, arch-a, arch-a+lsgan, arch-a+wgan-gp]
"""
IMAGES_SPEC = {"kind": "images", "n_gen": 500, "profile": "smoke", "libraries": {"torch": "x"}, "device": "cpu",
               "backbones": {"domain": {"backbone": "domain"}}}
# variant -> (its loss, domain FID of seeds 0-2, the health checks each seed's verdict flags)
RUNS = {
    "arch-a": ("ns", (90.0, 95.0, 100.0), ((), (), ())),
    "arch-a+lsgan": ("lsgan", (80.0, 82.0, 84.0), ((), ("checkerboard",), ())),  # a flaw, not a failure
    "arch-a+wgan-gp": ("wgan-gp", (70.0, 71.0, 72.0), ((), (), ())),
    "arch-b": ("ns", (300.0, 310.0, 320.0), (("mode_collapse",), (), ())),
    "arch-b+lsgan": ("lsgan", (None, 250.0, 260.0), (("diverged",), (), ())),
    "arch-b+wgan-gp": ("wgan-gp", (120.0, 121.0, 119.0), ((), (), ())),
}


def _runs(root):
    (root / "pipelines").mkdir()
    (root / "pipelines/robustness.yaml").write_text(STUDY)
    for variant, (loss, fids, flags) in RUNS.items():
        for seed, (fid, flagged) in enumerate(zip(fids, flags, strict=True)):
            fake_run(root, variant, seed, 0, study="robustness", dataset="fmnist32", spec=IMAGES_SPEC,
                     recipe={"loss": loss}, metrics={"fid_domain": fid}, health=_verdict(*flagged),
                     diverged={"kimg": 1.0, "step": 3, "reason": "loss_d = nan"} if fid is None else None)
    aggregate(root)


def test_the_grid_counts_the_architectures_each_loss_trains_on(tmp_path):
    import pandas as pd

    from bench.tables.robustness import robustness_grid

    _runs(tmp_path)
    summary = pd.read_csv(tmp_path / "results/tables/summary.csv")
    runs = pd.read_csv(tmp_path / "results/tables/runs.csv")
    assert robustness_grid(summary, runs, "fid_domain")["architectures"] == ["arch-a", "arch-b"]  # unlisted
    grid = robustness_grid(summary, runs, "fid_domain", ["arch-b", "arch-b+lsgan", "arch-a"])
    assert grid["architectures"] == ["arch-b", "arch-a"] and grid["losses"] == ["ns", "lsgan", "wgan-gp"]
    assert grid["trains_on"] == {"ns": 1, "lsgan": 1, "wgan-gp": 2}  # checkerboard alone still trains
    assert grid["cells"]["arch-a"]["lsgan"]["trains"] and not grid["cells"]["arch-b"]["ns"]["trains"]
    assert grid["cells"]["arch-b"]["wgan-gp"]["mean"] == 120.0
    assert grid["cells"]["arch-b"]["lsgan"]["n"] == 2  # the diverged seed has no FID; it is counted, not averaged


def test_the_page_is_the_papers_grid_with_fid_and_badges_per_cell(tmp_path):
    _runs(tmp_path)
    render(tmp_path)
    page = (tmp_path / "reports/robustness.html").read_text()
    assert "<b>WGAN-GP</b> 2 of 2" in page and "<b>DCGAN (NS)</b> 1 of 2" in page
    head = page.index("<thead>")
    assert page.index("DCGAN (NS)", head) < page.index("LSGAN", head) < page.index("WGAN-GP", head)
    assert page.index("<b>arch-b</b>") < page.index("<b>arch-a</b>")  # the study file's order
    assert "120.0 ± 1.0" in page and '<span class="badge">mode collapse: s0</span>' in page
    assert '<span class="badge">diverged: s0</span>' in page and page.count("<img") == 6
