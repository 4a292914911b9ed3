"""Open the report of the bundled example in headless Chromium: no console errors, no network
requests, every section present, readable at 200% zoom, printable; screenshots and a PDF are
written to tests/artifacts/ (git-ignored).

Needs the Python ``playwright`` package (driving the system Chromium; no browser download)
and ``/usr/bin/chromium``; skipped with the reason when either is missing.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "examples" / "youth_export.csv"
ARTIFACTS = ROOT / "tests" / "artifacts"
CHROMIUM = os.environ.get("PEERSCALE_CHROMIUM", "/usr/bin/chromium")
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]

if not Path(CHROMIUM).exists():
    pytest.skip(f"{CHROMIUM} is missing (Debian package chromium)", allow_module_level=True)
sync_api = pytest.importorskip("playwright.sync_api", reason="the playwright Python package is not installed")


@pytest.fixture(scope="module")
def report_file(tmp_path_factory):
    from peerscale.cli import main

    out = tmp_path_factory.mktemp("report") / "youth-pbr.html"
    code = main(["report", str(EXAMPLE), "--instrument", "pbr-y", "-o", str(out), "--validate", "--iterations", "3",
                 "--bootstrap", "100", "--quiet"])
    assert code == 0
    return out


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    profile = tmp_path_factory.mktemp("chromium-profile")  # a fresh --user-data-dir
    with sync_api.sync_playwright() as p:
        context = p.chromium.launch_persistent_context(str(profile), executable_path=CHROMIUM, headless=True,
                                                       args=ARGS, viewport={"width": 1280, "height": 900})
        yield context
        context.close()


def _open(context, path: Path, **viewport):
    page = context.new_page()
    if viewport:
        page.set_viewport_size(viewport)
    events = {"console": [], "errors": [], "requests": [], "failed": []}
    page.on("console", lambda m: events["console"].append((m.type, m.text)))
    page.on("pageerror", lambda e: events["errors"].append(str(e)))
    page.on("request", lambda r: events["requests"].append(r.url))
    page.on("requestfailed", lambda r: events["failed"].append(r.url))
    page.goto(path.as_uri(), wait_until="load")
    return page, events


def test_page_loads_cleanly_with_every_section(browser, report_file):
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page, ev = _open(browser, report_file)
    assert ev["errors"] == []
    assert [m for m in ev["console"] if m[0] in ("error", "warning")] == []
    assert ev["requests"] == [report_file.as_uri()], ev["requests"]  # the file itself, nothing else
    assert ev["failed"] == []
    assert page.evaluate("document.documentElement.lang") == "en"
    for sid in ("sample", "scoring", "items", "validation", "methods"):
        assert page.locator(f"section#{sid} > h2").count() == 1, sid
    for sid in ("distributions", "bands", "waves", "item-distributions", "item-missing", "item-flags",
                "reliability", "omega", "item-total", "factorability", "parallel", "efa", "cfa", "reproduce"):
        assert page.locator(f"#{sid}").is_visible(), sid
    charts = page.locator("svg[role=img]")
    assert charts.count() >= 10
    assert page.evaluate("[...document.querySelectorAll('svg')].every(s => s.getAttribute('aria-label') && "
                         "s.querySelector('title') && s.querySelector('desc'))")
    assert page.evaluate("[...document.querySelectorAll('table')].every(t => t.querySelector('caption'))")
    # charts are drawn: the first histogram has visible bars with a real size on screen
    box = charts.first.bounding_box()
    assert box["width"] > 300 and box["height"] > 100
    page.screenshot(path=str(ARTIFACTS / "report.png"), full_page=True)
    assert (ARTIFACTS / "report.png").stat().st_size > 10_000
    page.close()


def test_readable_at_200_percent_zoom(browser, report_file):
    # a 1280-pixel window at 200% zoom lays out like a 640-pixel one: nothing may force sideways scrolling
    page, _ = _open(browser, report_file, width=640, height=900)
    overflow = page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")
    assert overflow <= 1
    size = page.evaluate("parseFloat(getComputedStyle(document.querySelector('main p')).fontSize)")
    assert size >= 14
    page.screenshot(path=str(ARTIFACTS / "report-narrow.png"), full_page=False)
    page.close()


def test_printable(browser, report_file):
    page, _ = _open(browser, report_file)
    page.emulate_media(media="print")
    assert page.evaluate("getComputedStyle(document.querySelector('nav')).display") == "none"
    # printed, the first two pages were nearly blank: every section forced a new page. Now no
    # section does, and the title, the findings and the sample share the first page.
    breaks = page.evaluate("[...document.querySelectorAll('section > h2, h3')].map(h => getComputedStyle(h).breakBefore)")
    assert "page" not in breaks
    page.set_viewport_size({"width": 703, "height": 1017})  # A4 less the @page margins, at 96 dpi
    top = page.evaluate("document.querySelector('#sample').getBoundingClientRect().top + scrollY")
    assert top < 1017
    pdf = page.pdf(path=str(ARTIFACTS / "report.pdf"), format="A4")
    assert pdf[:4] == b"%PDF"
    page.close()
