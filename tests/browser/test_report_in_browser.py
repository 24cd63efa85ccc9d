"""The report as a user sees it: file:// pages in headless Chromium, no network, no console errors."""

from __future__ import annotations

import pytest
from selenium.common.exceptions import NoAlertPresentException
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import Select

from bench.report.render import render
from bench.tables.aggregate import aggregate
from tests.bench.tables.test_aggregate_report import EVIL, EVIL_NAME, _verdict, fake_run
from tests.conftest import open_page, page_problems


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    root = tmp_path_factory.mktemp("report")
    for seed, (good, evil, other) in enumerate([(8, 2, 6), (7, 3, 5), (8, 2, 6)]):
        fake_run(root, "mlp-gan", seed, good, health=_verdict())
        fake_run(root, EVIL_NAME, seed, evil, paper=EVIL, health=_verdict(*(["checkerboard"] if seed == 1 else [])))
        fake_run(root, "mlp-gan+hinge", seed, other, reverse_kl=0.2, health=_verdict())
    aggregate(root)
    return render(root).parent


def pages(report):
    return sorted(report.glob("*.html"))


def test_every_page_loads_offline_with_its_images_links_and_no_console_errors(browser, report):
    assert len(pages(report)) >= 6  # index, study, 3 variant pages, 1 comparison
    for page in pages(report):
        assert page_problems(browser, page) == [], page.name
    open_page(browser, report / "variant-mlp-gan.html")
    assert len(browser.find_elements(By.CSS_SELECTOR, ".grids img")) == 3  # one grid per seed


def test_a_request_that_leaves_the_report_is_blocked_and_reported(browser, report):
    """The checks above can fail: a page that tries to fetch from the network is caught, and the page's
    Content-Security-Policy stops the request before it is sent."""
    page = report / "leak.html"
    page.write_text((report / "index.html").read_text().replace("</body>", '<img src="http://example.com/x.png"></body>'))
    problems = page_problems(browser, page)
    page.unlink()
    assert any("Content Security Policy" in p or "example.com" in p for p in problems), problems


def _variants_in_order(browser):
    return [row.find_element(By.CSS_SELECTOR, "a.variant").text
            for row in browser.find_elements(By.CSS_SELECTOR, "table.leaderboard tbody:not(.published-rows) tr")]


def test_sorting_a_column_reorders_the_rows(browser, report):
    open_page(browser, report / "index.html")
    assert _variants_in_order(browser)[0] == "mlp-gan"  # default: best modes covered first
    header = browser.find_element(By.XPATH, "//table[contains(@class,'leaderboard')]//th[text()='modes covered']")
    header.click()  # ascending: fewest modes first
    assert _variants_in_order(browser) == [EVIL_NAME, "mlp-gan+hinge", "mlp-gan"]
    header.click()
    assert _variants_in_order(browser) == ["mlp-gan", "mlp-gan+hinge", EVIL_NAME]
    browser.find_element(By.XPATH, "//table[contains(@class,'leaderboard')]//th[text()='variant']").click()
    assert _variants_in_order(browser) == sorted([EVIL_NAME, "mlp-gan+hinge", "mlp-gan"])


def test_family_filter_shows_only_that_family(browser, report):
    open_page(browser, report / "index.html")
    select = Select(browser.find_element(By.CSS_SELECTOR, "select.family-filter"))
    assert {o.text for o in select.options} == {"all", "architecture", "loss", "new method"}

    def visible():
        rows = browser.find_elements(By.CSS_SELECTOR, "table.leaderboard tbody:not(.published-rows) tr")
        return [r.find_element(By.CSS_SELECTOR, "a.variant").text for r in rows if r.is_displayed()]

    select.select_by_visible_text("loss")
    assert visible() == ["mlp-gan+hinge"]
    select.select_by_visible_text("new method")
    assert visible() == [EVIL_NAME]
    select.select_by_visible_text("all")
    assert len(visible()) == 3


def test_the_health_filter_hides_variants_with_a_flagged_seed_and_composes_with_the_family_filter(browser, report):
    open_page(browser, report / "index.html")
    healthy_only = browser.find_element(By.CSS_SELECTOR, "input.health-filter")
    select = Select(browser.find_element(By.CSS_SELECTOR, "select.family-filter"))

    def visible():
        rows = browser.find_elements(By.CSS_SELECTOR, "table.leaderboard tbody:not(.published-rows) tr")
        return sorted(r.find_element(By.CSS_SELECTOR, "a.variant").text for r in rows if r.is_displayed())

    assert len(visible()) == 3
    healthy_only.click()
    assert visible() == ["mlp-gan", "mlp-gan+hinge"]  # evil-gan's seed 1 has a checkerboard
    select.select_by_visible_text("loss")
    assert visible() == ["mlp-gan+hinge"]
    healthy_only.click()
    select.select_by_visible_text("new method")
    assert visible() == [EVIL_NAME]
    select.select_by_visible_text("all")


def test_tied_entries_share_a_rank_marked_as_tied(browser, report):
    open_page(browser, report / "index.html")
    tied = browser.find_elements(By.CSS_SELECTOR, "table.leaderboard td.tied")
    assert tied and all(cell.text.startswith("=") for cell in tied)


def test_the_new_method_page_shows_its_verdict_table(browser, report):
    page = next(report.glob("compare-*.html"))
    open_page(browser, page)
    rows = browser.find_elements(By.CSS_SELECTOR, "table.verdicts tbody tr")
    cells = {(r.find_elements(By.TAG_NAME, "td")[0].text, r.find_elements(By.TAG_NAME, "td")[1].text.split(" (")[0]):
             r.find_element(By.CSS_SELECTOR, "td.verdict").text for r in rows}
    # 2-3 modes against 7-8 over three seeds: separable after Holm's correction
    assert cells[("mlp-gan", "modes covered")] == "worse"
    assert set(cells.values()) <= {"better", "worse", "tied"}
    assert "compared with 2 baselines" in browser.find_element(By.CSS_SELECTOR, "p.summary").text


def test_a_paper_written_like_markup_renders_as_text(browser, report):
    for page in [report / "index.html", report / "variant-evil-gan.html", *report.glob("compare-*.html")]:
        open_page(browser, page)
        with pytest.raises(NoAlertPresentException):
            browser.switch_to.alert.text  # noqa: B018  (onerror=alert(1) would have opened one)
        assert browser.find_elements(By.CSS_SELECTOR, "img[src='x']") == []
        assert EVIL in browser.find_element(By.TAG_NAME, "body").text, page.name
