"""The web page in a real browser: Playwright driving Debian's Chromium against uvicorn.

Skipped (with the reason) only when Playwright or a Chromium binary is missing (under
``CI=true`` a missing Chromium fails instead): set ``UNSPIN_CHROMIUM`` to use another
binary. ``UNSPIN_SCREENSHOT=docs/screenshot.png``
also writes the README's screenshot there.
"""

import os
import shutil
import socket
import threading
import time
from pathlib import Path

import pytest

pytest.importorskip("fastapi", reason="the server extra (fastapi) is not installed")
uvicorn = pytest.importorskip("uvicorn", reason="the server extra (uvicorn) is not installed")
sync_api = pytest.importorskip("playwright.sync_api",
                               reason="playwright is not installed (the test extra has it)")
import httpx  # noqa: E402

import unspin  # noqa: E402
import unspin.api  # noqa: E402
from unspin.server import ServerConfig, create_app  # noqa: E402

CHROMIUM = os.environ.get("UNSPIN_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
if not Path(CHROMIUM).is_file():
    # CI's test command installs Chromium, so there a missing browser is a failure, not a
    # silently skipped browser test.
    if os.environ.get("CI"):
        pytest.fail(f"CI=true but no Chromium at {CHROMIUM}", pytrace=False)
    pytest.skip(f"no Chromium at {CHROMIUM} (apt-get install -y chromium)",
                allow_module_level=True)

SPUN = (
    "The metropolis council accredited a brand new finances on Tuesday after a protracted "
    "debate about faculty funding. The mayor stated the plan would rent 3 hundred academics "
    "and restore outdated buildings throughout the district.\n\nThe Supreme Courtroom is "
    "predicted to rule on a associated case within the spring."
)
XSS = '<script>alert("x")</script><img src=x onerror="window.__xss=1;alert(2)">'


class FakeIndex:
    """Trace matches; for text with markup in it, also a hostile one (a javascript: URL and
    markup in the title)."""

    def query(self, text):
        matches = [{"id": "news-1", "score": 0.93, "coverage": 0.81,
                    "url": "https://example.org/news/1", "title": "City council budget"}]
        if "<" in text:
            matches.append({"id": "javascript:alert(3)", "score": 0.2, "coverage": 0.1,
                            "title": '<img src=x onerror="window.__xss=2">'})
        return matches


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def base_url():
    port = _free_port()
    app = create_app(ServerConfig(pool="thread", workers=2, index=FakeIndex()))
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port,
                                           log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.05)
    yield url
    server.should_exit = True
    thread.join(10)


@pytest.fixture(scope="module")
def browser():
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=["--no-sandbox"])
        yield b
        b.close()


@pytest.fixture
def page(browser, base_url):
    # bypass_csp: the page must be safe by construction, not only thanks to its CSP (which
    # would block an injected inline handler and hide the bug; test_server checks the CSP).
    context = browser.new_context(viewport={"width": 1100, "height": 900},
                                  accept_downloads=True, bypass_csp=True)
    pg = context.new_page()
    pg.set_default_timeout(30_000)
    pg.dialogs = []
    pg.external = []
    pg.on("dialog", lambda d: (pg.dialogs.append(d.message), d.dismiss()))
    pg.on("request", lambda r: None if r.url.startswith((base_url, "data:", "blob:"))
          else pg.external.append(r.url))
    pg.goto(base_url + "/")
    pg.wait_for_selector("body[data-ready=true]")
    yield pg
    context.close()


def _analyse(page, text):
    page.fill("#text", text)
    page.click("#check-button")
    page.wait_for_selector("#results[data-state=done]")


def test_highlights_restore_and_diff(page, base_url, tmp_path):
    expected = httpx.post(base_url + "/v1/check", json={"text": SPUN}).json()
    restored = httpx.post(base_url + "/v1/restore", json={"text": SPUN}).json()
    _analyse(page, SPUN)

    # The document is shown verbatim, spun spans marked with their likely original.
    assert page.text_content("#doc") == SPUN
    marks = page.locator("#doc mark.spun:not(.from-restore)")
    assert marks.count() == len(expected["spans"]) >= 3
    for k, span in enumerate(expected["spans"]):
        mark = marks.nth(k)
        assert mark.text_content() == span["text"]
        assert mark.get_attribute("data-suggestion") == span["suggestion"]
    court = page.locator("#doc mark.spun", has_text="Courtroom")
    assert court.get_attribute("data-suggestion") == "Court"
    # Each highlight says what the restored text did with it.
    spin_edits = [e for e in restored["edits"] if e["kind"] != "cleanup"]
    for k, span in enumerate(expected["spans"]):
        edit = next((e for e in spin_edits
                     if e["start"] < span["end"] and span["start"] < e["end"]), None)
        state = "kept" if edit is None else (
            "same" if span["suggestion"].lower() in edit["replacement"].lower() else "different")
        assert marks.nth(k).get_attribute("data-restored") == state
    assert court.get_attribute("data-restored") == "same"
    assert "c-high" in court.get_attribute("class")
    # The full decode's spin edits where check marked nothing are marked too, as its own.
    only = [e for e in spin_edits
            if not any(s["start"] < e["end"] and e["start"] < s["end"] for s in expected["spans"])]
    extra = page.locator("#doc mark.spun.from-restore")
    assert extra.count() == len(only) >= 1
    for k, edit in enumerate(only):
        assert extra.nth(k).text_content() == edit["text"]
        assert extra.nth(k).get_attribute("data-suggestion") == edit["replacement"]
        assert extra.nth(k).get_attribute("data-restored") == "same"
        assert "found by the full decode" in extra.nth(k).get_attribute("title")
    n_marks = len(expected["spans"]) + len(only)
    assert page.locator("#doc mark.spun").count() == n_marks
    assert page.text_content("#span-count") == str(n_marks)
    assert f"{n_marks} spun spans ({len(only)} found by the full decode)" in \
        page.text_content("#verdict")
    assert page.get_attribute("#verdict", "data-verdict") == "spun"
    assert f"{expected['score']:.2f}" in page.text_content("#verdict")

    # Hover shows the likely original; so does keyboard focus (Tab from the view buttons).
    court.hover()
    assert "Court" in page.text_content("#span-detail")
    assert "restored text: the same" in page.text_content("#span-detail")
    page.focus(".view-button[data-view=diff]")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.classList.contains('spun')")
    first = expected["spans"][0]
    assert f"“{first['text']}” was likely “{first['suggestion']}”" in \
        page.text_content("#span-detail")

    page.wait_for_selector("#trace-list li")
    page.evaluate("document.activeElement.blur()")
    page.mouse.move(0, 0)
    court.hover()
    shot = page.screenshot(path=str(tmp_path / "highlight.png"), full_page=True)
    assert shot[:8] == b"\x89PNG\r\n\x1a\n"
    target = os.environ.get("UNSPIN_SCREENSHOT")
    if target:
        Path(target).write_bytes(shot)

    # Restored text, copy and download.
    page.click(".view-button[data-view=restored]")
    assert page.is_visible("#view-restored") and not page.is_visible("#view-highlight")
    assert page.text_content("#restored") == restored["text"]
    assert "Supreme Court is" in restored["text"]
    with page.expect_download() as dl:
        page.click("#download-button")
    assert Path(dl.value.path()).read_text(encoding="utf-8") == restored["text"]
    page.context.grant_permissions(["clipboard-read", "clipboard-write"])
    page.click("#copy-button")
    page.wait_for_function("document.getElementById('status').textContent.includes('copied')")
    assert page.evaluate("navigator.clipboard.readText()") == restored["text"]

    # Side by side: the input with deletions, the restored text with insertions.
    page.click(".view-button[data-view=diff]")
    assert page.text_content("#diff-left") == SPUN
    assert page.text_content("#diff-right") == restored["text"]
    n_edits = len(restored["edits"])
    assert page.locator("#diff-left del").count() == n_edits
    assert page.locator("#diff-right ins").count() == n_edits

    # Trace: the source is a link; nothing from outside was fetched.
    links = page.locator("#trace-list a")
    assert links.count() == 1
    assert links.first.get_attribute("href") == "https://example.org/news/1"
    assert links.first.text_content() == "City council budget"
    assert page.external == [] and page.dialogs == []


def test_user_text_never_runs_as_html(page):
    text = XSS + " The metropolis council accredited a brand new finances on Tuesday."
    _analyse(page, text)
    page.wait_for_selector("#trace-list li")
    assert page.text_content("#doc") == text
    assert page.locator("#results script, #results img").count() == 0
    # The hostile match: its markup is text, its javascript: id is not made a link.
    assert '<img src=x onerror="window.__xss=2">' in page.text_content("#trace-list")
    hrefs = page.locator("#trace-list a").evaluate_all("links => links.map(a => a.href)")
    assert hrefs == ["https://example.org/news/1"]
    page.click(".view-button[data-view=diff]")
    page.wait_for_timeout(300)
    assert page.dialogs == []
    assert page.evaluate("window.__xss") is None


def test_upload_html_file(page, tmp_path):
    html = tmp_path / "article.html"
    html.write_text("<html><head><title>t</title><script>alert(1)</script></head><body>"
                    "<nav>Home | About</nav><article><p>" + SPUN.replace("\n\n", "</p><p>")
                    + "</p></article></body></html>", encoding="utf-8")
    page.set_input_files("#file", str(html))
    page.wait_for_selector("#results[data-state=done]")
    value = page.input_value("#text")
    assert "<" not in value and "Home | About" not in value
    assert "Supreme Courtroom" in value
    assert page.locator("#doc mark.spun").count() >= 3
    assert page.dialogs == []


def test_page_works_under_its_own_csp(browser, base_url):
    context = browser.new_context()  # CSP enforced, unlike the other tests
    pg = context.new_page()
    violations = []
    pg.on("console", lambda m: violations.append(m.text)
          if "Content Security Policy" in m.text else None)
    try:
        pg.goto(base_url + "/")
        pg.wait_for_selector("body[data-ready=true]")
        _analyse(pg, SPUN)
        assert pg.locator("#doc mark.spun").count() >= 3
        pg.goto(base_url + "/docs")
        pg.wait_for_selector("#endpoints h2")
        assert violations == []
    finally:
        context.close()


def test_readable_on_a_phone(browser, base_url):
    context = browser.new_context(viewport={"width": 375, "height": 740}, is_mobile=True,
                                  has_touch=True, bypass_csp=True)
    pg = context.new_page()
    try:
        pg.goto(base_url + "/")
        pg.wait_for_selector("body[data-ready=true]")
        _analyse(pg, SPUN)
        pg.tap("#doc mark.spun >> nth=0")
        assert "was likely" in pg.text_content("#span-detail")
        pg.tap(".view-button[data-view=diff]")
        # No sideways scrolling; the two diff columns are stacked.
        assert pg.evaluate("document.documentElement.scrollWidth") <= 375
        left = pg.locator("#diff-left").bounding_box()
        right = pg.locator("#diff-right").bounding_box()
        assert right["y"] >= left["y"] + left["height"]
    finally:
        context.close()


def test_docs_page_works_offline(page, base_url):
    page.goto(base_url + "/docs")
    page.wait_for_selector("#endpoints h2")
    titles = page.locator("#endpoints h2").all_text_contents()
    assert "POST /v1/check" in titles and "POST /v1/trace" in titles
    page.click("button:has-text('POST /v1/check')")
    page.wait_for_function("document.querySelector('#endpoints pre').textContent.includes('HTTP')")
    assert "HTTP 200" in page.locator("#endpoints pre").first.text_content()
    assert page.external == []


def test_verdict_notes_that_a_short_text_gives_little_evidence(page):
    _analyse(page, "Hello world.")
    assert "short text (2 words)" in page.text_content("#verdict")
    _analyse(page, SPUN)
    assert "short text" not in page.text_content("#verdict")


def test_verdict_notes_a_spinner_the_tables_hardly_know(page):
    # Swaps no shipped table explains well ("okayed" is one they know).
    text = ("Township senators okayed the virgin purse Tuesday after dragged-out squabbles "
            "about seminary bankrolling, and burgomasters voiced blueprints.")
    report = unspin.check(text)
    assert report.spun and report.familiarity < unspin.api.UNFAMILIAR_BELOW
    _analyse(page, text)
    assert "explain little of this text's unusual wording" in page.text_content("#verdict")
    _analyse(page, SPUN)
    assert "explain little" not in page.text_content("#verdict")


def test_verdict_counts_known_tortured_phrases(page):
    text = ("In this study we apply counterfeit consciousness to images of bosom malignancy "
            "collected at two sites between 2015 and 2019.")
    _analyse(page, text)
    assert "2 known tortured phrases" in page.text_content("#verdict")
    _analyse(page, SPUN)
    assert "tortured" not in page.text_content("#verdict")
