"""The report stage: results/tables -> reports/ (static, offline HTML; open reports/index.html).

Pages: index.html (every table study's leaderboard per dataset: sortable, filterable by family, tied
ranks, equal-compute curves, CSV/JSON downloads), one page per study, one per variant (paper, recipe,
config hashes, metrics, cost, curves of all seeds, sample grids per seed) and one per new method (its
comparison against the baselines). Reads only results/tables and the sample grids the tables name.
Images are files next to the pages (reports/img), plots inline SVG, the few lines of JavaScript inline;
a Content-Security-Policy forbids every request to the network (only local images and inline code run).
Every string from a user (variant names, papers, specs) goes through jinja2's autoescaping.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
from jinja2 import Environment, PackageLoader, select_autoescape

from bench.protocol.io import write_bytes, write_text
from bench.report.leaderboard import leaderboard_sections
from bench.report.limited_data import limited_data_sections, published_rows
from bench.report.pages import compare_pages, variant_pages
from bench.report.robustness import robustness_sections
from bench.report.site import Images, Tables, compare_href, provenance, slug
from bench.report.studies import ablation_sections, alignment_sections, mode_collapse_sections, sweep_sections
from bench.report.tokenizer import tokenizer_sections
from bench.report.translation import translation_sections


def study_pages(tables: Tables, images: Images) -> dict[str, tuple[str, dict]]:
    """page file -> (template, context): one page per study (table, sweep, ablation, alignment, limited data,
    mode collapse, robustness, translation or tokenizer)."""
    pages = {}
    studies = sorted(set(tables.summary["study"]))
    for name in studies:
        info = tables.kinds.get(name, {"kind": "table", "title": name})
        page = f"{slug(name)}.html"
        if info["kind"] == "sweep":
            tables_of_study = {k: v for k, v in tables.sweeps.items() if v["study"] == name}
            if tables_of_study:
                pages[page] = ("sweep.html", {"title": info["title"],
                                              "sections": sweep_sections(tables_of_study, tables.specs)})
        elif info["kind"] == "ablation":
            sections = ablation_sections({k: v for k, v in tables.ablations.items() if v["study"] == name},
                                         tables.specs, tables.runs, images)
            pages[page] = ("ablation.html", {"title": info["title"], "sections": sections})
        elif info["kind"] == "alignment":
            sections = alignment_sections({k: v for k, v in tables.alignment.items() if v["study"] == name},
                                          tables.runs, images)
            pages[page] = ("alignment.html", {"title": info["title"], "sections": sections})
        elif info["kind"] == "limited-data" and name in tables.limited_data:
            entry = tables.limited_data[name]
            pages[page] = ("limited_data.html", {
                "title": info["title"], "sections": limited_data_sections(entry, tables.runs, images),
                "published": published_rows(entry), "alpha": entry["alpha"],
                "headline": next(m["label"] for m in entry["metrics"] if m["metric"] == entry["headline"]),
                "parent": ", ".join(s["dataset"] for s in entry["sizes"][-1:])})
        elif info["kind"] == "robustness":
            sections = robustness_sections(name, tables.summary, tables.runs, images, tables.info,
                                           info.get("datasets", {}))
            pages[page] = ("robustness.html", {"title": info["title"], "sections": sections})
        elif info["kind"] == "translation":
            sections = translation_sections(name, tables.summary, tables.runs, images, tables.specs,
                                            info.get("datasets", {}))
            pages[page] = ("translation.html", {"title": info["title"], "sections": sections})
        elif info["kind"] == "tokenizer":
            pages[page] = ("tokenizer.html", {"title": info["title"],
                                              "sections": tokenizer_sections(name, tables, images)})
        elif info["kind"] == "mode-collapse":
            sections = mode_collapse_sections(name, tables.summary, tables.runs, images)
            pages[page] = ("mode_collapse.html", {"title": info["title"], "sections": sections})
        else:
            pages[page] = ("index.html", {"title": info["title"], "study": name,
                                          "sections": leaderboard_sections(tables, name)})
    return pages


def write_downloads(tables: Tables, out: Path, sections: list[dict]) -> set[str]:
    """reports/tables: the full tables plus each leaderboard as shown (CSV and JSON); returns the paths."""
    written = set()
    for name in ("summary.csv", "runs.csv", "summary.json", "runs.json", "comparisons.json",
                 "comparisons_equal_flops.json", "curves.json", "budget_leaders.json", "variants.json"):
        if (tables.folder / name).exists():
            write_bytes(out / "tables" / name, (tables.folder / name).read_bytes())
            written.add(f"tables/{name}")
    for section in sections:
        block = tables.summary[(tables.summary["study"] == section["study"])
                               & (tables.summary["dataset"] == section["dataset"])].dropna(axis=1, how="all")
        write_text(out / section["downloads"]["csv"], block.to_csv(index=False))
        write_text(out / section["downloads"]["json"], block.to_json(orient="records", indent=1))
        written.update(section["downloads"].values())
    for name, rows in tables.comparisons.items():
        frame = pd.json_normalize(rows)
        write_text(out / "tables" / f"compare-{slug(name)}.csv", frame.to_csv(index=False))
        written.add(f"tables/compare-{slug(name)}.csv")
    return written


def _remove_stale(out: Path, written: set[str]) -> None:
    """Pages and images of a previous render that this one did not write (a renamed variant's page)."""
    for path in [*out.glob("*.html"), *out.glob("img/*.png"), *out.glob("tables/*")]:
        if path.relative_to(out).as_posix() not in written:
            path.unlink()


def render(root: Path) -> Path:
    tables = Tables(root)
    out = root / "reports"
    images = Images(root, out)
    env = Environment(loader=PackageLoader("bench.report", "templates"), autoescape=select_autoescape(["html"]))
    common = {"provenance": provenance(tables, root), "missing": tables.missing}
    sections = leaderboard_sections(tables)
    pages = {"index.html": ("index.html", {"title": "gan-bench leaderboard", "study": None, "sections": sections,
                                           "is_index": True})}
    studies = study_pages(tables, images)
    pages.update(studies)
    pages.update(variant_pages(tables, images))
    pages.update(compare_pages(tables))
    nav = [{"href": "index.html", "title": "All leaderboards"},
           *[{"href": page, "title": context["title"]} for page, (_, context) in studies.items()]]
    common["nav"] = nav
    common["new_methods"] = [{"href": compare_href(n), "name": n} for n in sorted(tables.comparisons)]
    for page, (template, context) in pages.items():
        write_text(out / page, env.get_template(template).render(**common, **context))
    downloads = write_downloads(tables, out, sections)
    _remove_stale(out, set(pages) | images.written | downloads)
    return out / "index.html"
