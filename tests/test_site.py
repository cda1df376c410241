"""Static HTML leaderboard: self-contained (relative, existing assets; no http), renders and sorts in Chromium."""
from __future__ import annotations

import re
import shutil
from html.parser import HTMLParser
from pathlib import Path

import pytest

from benchmark.runner import plan_jobs, run_jobs

PROBES = "tests.scorers.probes"


class _Links(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.links: list[str] = []
        self.rows = 0

    def handle_starttag(self, tag, attrs):
        for k, v in attrs:
            if k in ("href", "src") and v:
                self.links.append(v)
        self.rows += tag == "tr"


@pytest.fixture
def site(synth_registry, tmp_path) -> Path:
    from benchmark.site import build_site

    jobs = plan_jobs(tasks=["synth/unsup", "synthres/rnd", "synth/ratio", "synth/ti"],
                     scorers=[f"{PROBES}:MassScorer", "random"], seeds=3, skipped=[],
                     source="generated", results_dir=tmp_path / "res", n_boot=10, injections=[0, 200, 400])
    jobs = [j for j in jobs if not (j.scorer == "random" and j.seed == 1)]  # an incomplete entry
    run_jobs(jobs, progress=False)
    return build_site(tmp_path / "res", tmp_path / "site")


#: One task page of each kind, the plots it must show, and its reported figure (conftest registry).
KINDS = {
    "unsupervised": ("synth__unsup.html", ("-roc.png", "-sic.png"), "mass: auc 0.9"),
    "resonant": ("synthres__rnd.html", ("-roc.png", "-sic.png", "-injection.png"), "max_sic 2.0"),
    "density ratio": ("synth__ratio.html", ("-roc.png", "-sic.png"), "flow: auc 0.8, auc_supervised 0.85"),
    "Dark Machines": ("synth__ti.html", ("-roc.png", "-sic.png", "-ti-per-signal.png"), "deepset: ti_median 3.5"),
}
_BAND = re.compile(r"^(-?\d+(?:\.(\d+))?) ± (\d+(?:\.(\d+))?)$")


def rounded_like_pdg(text: str) -> bool:
    """``value ± error`` with the error at two (or, for leading digits 355-949, one) significant
    digits and the value to the same decimal place; ``n/a`` and ``> N`` bounds pass."""
    if text in ("n/a", "") or text.startswith("> "):
        return True
    m = _BAND.match(text)
    if not m:
        return False
    value_decimals, err = len(m.group(2) or ""), m.group(3)
    if err == "0":  # no spread at all (every seed agrees): the value keeps three significant digits
        return True
    digits = err.replace(".", "").lstrip("0")
    return value_decimals == len(m.group(4) or "") and 1 <= len(digits) <= 2


def test_site_is_self_contained(site):
    pages = sorted(site.parent.glob("*.html"))
    assert {p.name for p in pages} >= {"index.html", "synth__unsup.html", "synthres__rnd.html"}
    for page in pages:
        text = page.read_text()
        assert not re.search(r"https?://", text), f"{page.name} references the internet"
        parser = _Links()
        parser.feed(text)
        for link in parser.links:
            assert not link.startswith(("/", "file:")), link
            assert (page.parent / link.split("#")[0]).exists(), f"{page.name}: {link} is missing"
    task = (site.parent / "synthres__rnd.html").read_text()
    assert "-injection.png" in task and "-roc.png" in task and "-sic.png" in task
    assert "provenance" in task and "±" in task and 'class="incomplete"' in task
    unsup = (site.parent / "synth__unsup.html").read_text()
    assert "<th scope=\"col\">paper</th>" in unsup  # the papers' reported figures have their column


def _chromium() -> str | None:
    """Debian's chromium (or another system Chromium/Chrome); Playwright downloads no browser of its own."""
    for name in ("chromium", "chromium-browser", "google-chrome"):
        path = shutil.which(name) or (f"/usr/bin/{name}" if Path(f"/usr/bin/{name}").exists() else None)
        if path:
            return path
    return None


@pytest.mark.timeout(300)
def test_site_renders_and_sorts_in_chromium(site, tmp_path):
    """Playwright for Python drives the system chromium (``executable_path``): the index's task link
    opens the task page, pages render from file:// without any other request or console error, their
    images load, and clicking a header sorts the table; a screenshot of the task page is saved."""
    browser_path = _chromium()
    if browser_path is None:
        pytest.skip("no chromium found (apt-get install -y chromium; .ci/run installs it); "
                    "the HTML is still checked by the parser test")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError as exc:
        pytest.skip(f"Playwright for Python is not installed ({exc}); pip install playwright "
                    "(no browser download: the test drives the system chromium)")
    page_path = site.parent / "synth__unsup.html"
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=browser_path, headless=True, timeout=60_000,
                                     args=["--disable-gpu", "--disable-dev-shm-usage"])
        try:
            page = browser.new_page()
            page.set_default_timeout(30_000)
            requested: list[str] = []
            page.on("request", lambda req: requested.append(req.url))
            errors: list[str] = []
            page.on("pageerror", lambda exc: errors.append(str(exc)))
            page.on("console", lambda msg: errors.append(f"console.{msg.type}: {msg.text}")
                    if msg.type in ("error", "warning") else None)
            # the index's link to the task opens the task page
            page.goto((site.parent / "index.html").as_uri())
            page.wait_for_selector('body[data-ready="1"]')
            page.click(f'a[href="{page_path.name}"] >> nth=0')
            page.wait_for_url(f"**/{page_path.name}")
            page.wait_for_selector('body[data-ready="1"]')
            assert not errors, errors
            assert requested and all(u.startswith("file://") for u in requested), requested
            # every image on the page is a local file that the browser could decode
            broken = page.eval_on_selector_all("img", "imgs => imgs.filter(i => !(i.complete && i.naturalWidth > 0))"
                                                      ".map(i => i.getAttribute('src'))")
            assert not broken, broken

            def scorers() -> list[str]:  # first column, without the incomplete flag " *"
                names = page.eval_on_selector_all("table.sortable tbody tr",
                                                  "rows => rows.map(r => r.cells[0].textContent.trim())")
                return [n.removesuffix("*").strip() for n in names]

            assert set(scorers()) >= {"random", "MassScorer"}
            titles = [t.strip().lower() for t in page.locator("table.sortable thead th").all_inner_texts()]
            col = next(i for i, t in enumerate(titles) if t.startswith("auc"))  # after the train/test column
            header = page.locator("table.sortable thead th").nth(col)
            header.click()  # ascending: the random scorer first
            assert page.get_attribute("table.sortable", "data-sorted") == str(col)
            assert header.get_attribute("aria-sort") == "ascending" and scorers()[0] == "random"
            header.click()  # again: descending, the mass scorer first
            assert page.get_attribute("table.sortable", "data-sorted") == f"-{col}"
            assert header.get_attribute("aria-sort") == "descending" and scorers()[0] == "MassScorer"
            # a page opened with #sort=-COL is sorted on load
            page.goto(page_path.as_uri() + f"#sort=-{col}")
            page.reload()
            page.wait_for_selector('body[data-ready="1"]')
            assert page.get_attribute("table.sortable", "data-sorted") == f"-{col}" and scorers()[0] == "MassScorer"
            assert not errors, errors
            shot = tmp_path / "leaderboard-task-page.png"
            page.screenshot(path=str(shot), full_page=True)
            assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and shot.stat().st_size > 10_000
            print(f"screenshot: {shot}")
        finally:
            browser.close()


def test_task_pages_of_each_kind_explain_themselves(site):
    """Protocol, classes, counts, source, the papers' figures (column and section), commands and plots."""
    for kind, (name, plots, figure) in KINDS.items():
        text = (site.parent / name).read_text()
        for label in ("Protocol", "Background", "Signal", "Source (generated)", "Events used (generated)"):
            assert f"<dt>{label}</dt>" in text, (kind, label)
        assert "Reported in the papers" in text and figure in text, kind
        assert "lhcad run --scorer" in text and "model card" in text, kind
        for suffix in plots:
            assert f"{name.removesuffix('.html')}{suffix}" in text, (kind, suffix)
    assert "injections 0, 200, 400" in (site.parent / "synthres__rnd.html").read_text()


def _screenshot_dir(tmp_path: Path) -> Path:
    import os

    out = Path(os.environ.get("LHCAD_SCREENSHOTS", tmp_path))
    out.mkdir(parents=True, exist_ok=True)
    return out


@pytest.mark.timeout(300)
def test_task_pages_of_each_kind_in_chromium(site, tmp_path):
    """Each kind's page in Chromium: every metric cell rounded by the PDG rule, the paper column
    filled in every row, every plot decoded by the browser; a full-page screenshot of each
    (into $LHCAD_SCREENSHOTS when set, to look at)."""
    browser_path = _chromium()
    if browser_path is None:
        pytest.skip("no chromium found (apt-get install -y chromium)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError as exc:
        pytest.skip(f"Playwright for Python is not installed ({exc})")
    shots = _screenshot_dir(tmp_path)
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=browser_path, headless=True, timeout=60_000,
                                     args=["--disable-gpu", "--disable-dev-shm-usage"])
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 900})
            page.set_default_timeout(30_000)
            for kind, (name, plots, figure) in KINDS.items():
                page.goto((site.parent / name).as_uri())
                page.wait_for_selector('body[data-ready="1"]')
                titles = [t.strip() for t in page.locator("table.sortable thead th").all_inner_texts()]
                rows = page.eval_on_selector_all("table.sortable tbody tr",
                                                 "rows => rows.map(r => Array.from(r.cells).map(c => c.innerText.trim()))")
                assert rows, kind
                first_metric, seeds_at = titles.index("train/test") + 1, titles.index("seeds")
                paper_at = titles.index("paper")
                for row in rows:
                    for cell in row[first_metric:seeds_at]:
                        assert rounded_like_pdg(cell), (kind, titles, cell)
                    assert row[paper_at], (kind, row)  # the task has a reported figure: never blank
                assert any(figure.split(": ")[-1] in row[paper_at] for row in rows), kind
                images = page.eval_on_selector_all(
                    ".plots img", "imgs => imgs.map(i => [i.getAttribute('src'), i.complete && i.naturalWidth > 300])")
                for suffix in plots:
                    assert any(src.endswith(suffix) and ok for src, ok in images), (kind, suffix, images)
                shot = shots / f"site-{name.removesuffix('.html')}.png"
                page.screenshot(path=str(shot), full_page=True)
                assert shot.stat().st_size > 20_000
        finally:
            browser.close()


def test_run_with_leaderboard_writes_the_site_too(synth_registry, tmp_path):
    """The README's main job (``lhcad run ... --leaderboard DIR``) leaves the HTML site in DIR/site."""
    from benchmark.cli import main

    out = tmp_path / "lb"
    code = main(["run", "--task", "synth/unsup", "--scorer", f"{PROBES}:MassScorer", "--seeds", "1",
                 "--results", str(tmp_path / "res"), "--leaderboard", str(out), "--no-isolation", "--no-progress",
                 "--bootstrap", "5"])
    assert code == 0
    page = (out / "site" / "synth__unsup.html").read_text()
    assert (out / "site" / "index.html").exists() and "Reported in the papers" in page
    assert (out / "site" / "plots" / "synth__unsup-roc.png").exists()
