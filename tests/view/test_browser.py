"""End to end in a real headless Chromium (Debian's, driven by Selenium): load the page, click a pixel, and
check that the drawn track is the one ``omnimotion track`` writes for that point; drag a region; screenshot.

Skips, saying why, where Selenium, Chromium or its driver is missing; under CI (``CI=true``, where ``.ci/run``
installs all three) it fails instead.
Set ``OMNIMOTION_VIEWER_SCREENSHOT=docs/viewer.png`` to keep the screenshot (the README's picture).
"""

from __future__ import annotations

import os
import shutil
from importlib import resources
from pathlib import Path

import numpy as np
import pytest
from tiny_checkpoint import save_untrained_checkpoint
from view_fixtures import running_server

from omnimotion.preprocess.options import PrepareConfig
from omnimotion.cli.main import main
from omnimotion.preprocess.pipeline import prepare
from omnimotion.track import load_tracks
from omnimotion.view.server import WIRE_DECIMALS

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMEDRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"
# No network here: without these, Chromium waits on lookups for updates, sync and field trials.
CHROMIUM_FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync",
                  "--disable-dev-shm-usage", "--window-size=1180,780", "--force-device-scale-factor=1")
FRAMES = 12
EVIDENCE = "positions"  # the flows' positions where they vouch: tracks that follow the clip, untrained model
TIMEOUT_S = 60


def skip_or_fail_in_ci(reason: str) -> None:
    if os.environ.get("CI") == "true":
        pytest.fail(f"{reason}; .ci/run installs it, so CI must have it")
    pytest.skip(reason)


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service
    except ImportError:
        skip_or_fail_in_ci("the browser test needs Selenium (pip install -e '.[browser]')")
    for path, package in ((CHROMIUM, "chromium"), (CHROMEDRIVER, "chromium-driver")):
        if not Path(path).exists():
            skip_or_fail_in_ci(f"no {path}: install Debian's {package} (apt-get install -y chromium chromium-driver)")

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in CHROMIUM_FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={tmp_path_factory.mktemp('chromium-profile')}")
    driver = webdriver.Chrome(options=options, service=Service(CHROMEDRIVER))
    driver.set_page_load_timeout(TIMEOUT_S)
    yield driver
    driver.quit()


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory):
    """The first frames of the package's demo clip, prepared as ``omnimotion run`` does, with an untrained model."""
    root = tmp_path_factory.mktemp("demo")
    clip = Path(str(resources.files("omnimotion") / "assets" / "demo.mp4"))
    data = prepare(clip, root / "run", PrepareConfig(end=FRAMES, max_side=None), progress=False, workers=1)
    save_untrained_checkpoint(data.root, FRAMES, data.image_hw)
    return data.root


def wait_for(driver, script: str, what: str):
    from selenium.webdriver.support.ui import WebDriverWait

    return WebDriverWait(driver, TIMEOUT_S).until(lambda d: d.execute_script(script), message=f"waiting for {what}")


def canvas_offset(driver, x: float, y: float) -> tuple[int, int]:
    """Offset from the canvas centre (what Selenium's pointer moves take) of image pixel (x, y)'s centre."""
    rect = driver.execute_script("const r = document.getElementById('view').getBoundingClientRect();"
                                 "return [r.width, r.height, r.width / window.viewer.state.info.image_hw[1]];")
    width, height, scale = rect
    return round((x + 0.5) * scale - width / 2), round((y + 0.5) * scale - height / 2)


def test_click_draws_the_track_of_omnimotion_track(browser, demo_run, tmp_path):
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.keys import Keys

    with running_server_with(demo_run) as server:
        browser.get(server.url)
        wait_for(browser, "return document.body.dataset.ready === '1'", "the page to load its frames")
        browser.execute_script("window.viewer.setFrame(3)")
        canvas = browser.find_element("id", "view")
        ActionChains(browser).move_to_element_with_offset(canvas, *canvas_offset(browser, 70, 40)).click().perform()
        wait_for(browser, "return window.viewer.state.items.length === 1 && !window.viewer.state.busy",
                 "the clicked point's track")
        item = browser.execute_script("const i = window.viewer.state.items[0];"
                                      "return {queries: i.queries, tracks: i.tracks, occluded: i.occluded};")
        t, x, y = item["queries"][0]
        assert (t, x, y) == (3, 70, 40)  # the pixel under the pointer, on the frame shown

        out = tmp_path / "cli.npz"
        assert main(["track", str(demo_run), "--points", f"{x:g},{y:g}@{t:g}", "--out", str(out), "--device", "cpu",
                     "--flow_evidence", EVIDENCE]) == 0
        expected = load_tracks(out)
        np.testing.assert_allclose(item["tracks"], expected.tracks, atol=0.5 * 10 ** -WIRE_DECIMALS + 1e-5)
        np.testing.assert_array_equal(np.asarray(item["occluded"], bool), expected.occluded)

        # what is on the canvas: the point's colour where the track is, at another frame
        frame = int(np.flatnonzero(~expected.occluded[0])[-1])
        browser.execute_script(f"window.viewer.setFrame({frame})")
        px, py = expected.tracks[0, frame]
        drawn = browser.execute_script(
            "const c = document.getElementById('view'), s = c.width / window.viewer.state.info.image_hw[1];"
            f"return Array.from(c.getContext('2d').getImageData(Math.floor(({px} + 0.5) * s), "
            f"Math.floor(({py} + 0.5) * s), 1, 1).data);")
        colour = browser.execute_script("return window.viewer.state.items[0].colors[0];")
        assert np.abs(np.asarray(drawn[:3]) - [int(colour[i:i + 2], 16) for i in (1, 3, 5)]).max() <= 40

        # stepping with the keys, and play / pause
        browser.execute_script("window.viewer.setFrame(0)")
        ActionChains(browser).send_keys(Keys.ARROW_RIGHT).send_keys(Keys.ARROW_RIGHT).send_keys(Keys.ARROW_LEFT).perform()
        assert browser.execute_script("return window.viewer.state.frame") == 1
        browser.find_element("id", "play").click()
        wait_for(browser, "return window.viewer.state.frame > 2", "playback")
        browser.find_element("id", "play").click()
        assert browser.execute_script("return window.viewer.state.playing") is False

        # a dragged rectangle: the tracks of a grid inside it, with a subsample drawn
        browser.execute_script("window.viewer.setFrame(0); document.getElementById('region-side').value = '32';")
        start, end = canvas_offset(browser, 20, 70), canvas_offset(browser, 60, 110)
        ActionChains(browser).move_to_element_with_offset(canvas, *start).click_and_hold() \
            .move_by_offset(end[0] - start[0], end[1] - start[1]).release().perform()
        wait_for(browser, "return window.viewer.state.items.length === 2 && !window.viewer.state.busy",
                 "the region's tracks")
        region = browser.execute_script("const i = window.viewer.state.items[1];"
                                        "return {n: i.queries.length, drawn: i.drawn.length, kind: i.kind};")
        # a box of about 41 px for at most 32 points across: every 2nd pixel, about 20 x 20 points
        assert region["kind"] == "region" and 19 * 19 <= region["n"] <= 21 * 21
        assert 0 < region["drawn"] <= 400
        assert browser.find_element("id", "progress").get_attribute("hidden") is not None

        for x, y in ((100, 30), (95, 100)):  # more points, each its own colour
            browser.execute_script(f"return window.viewer.trackPoint({x}, {y})")
        colours = browser.execute_script("return window.viewer.state.items.map((i) => i.swatch)")
        assert len(set(colours)) == 4
        browser.execute_script("window.viewer.setFrame(8); document.getElementById('trail').value = '8';"
                               "document.getElementById('trail').dispatchEvent(new Event('input'));")
        screenshot = tmp_path / "viewer.png"
        browser.save_screenshot(str(screenshot))
        assert screenshot.stat().st_size > 10_000
        keep = os.environ.get("OMNIMOTION_VIEWER_SCREENSHOT")
        if keep:
            shutil.copyfile(screenshot, keep)

        # the depth view and hiding occluded points
        browser.find_element("id", "depth").click()
        wait_for(browser, "return window.viewer.state.depth && !window.viewer.state.busy", "the depth frames")
        browser.find_element("id", "show-occluded").click()
        assert browser.execute_script("return window.viewer.state.showOccluded") is False
        assert "error" not in browser.find_element("id", "status").get_attribute("class")

        # remove one, then clear all
        browser.find_elements("css selector", "#tracks li .remove")[0].click()
        assert browser.execute_script("return window.viewer.state.items.map((i) => i.kind)") == \
            ["region", "point", "point"]
        assert browser.find_element("id", "track-count").text == str(region["n"] + 2)
        browser.find_element("id", "clear").click()
        assert browser.execute_script("return window.viewer.state.items.length") == 0
        assert browser.find_element("id", "clear").get_attribute("disabled") is not None


def running_server_with(run_dir: Path):
    return running_server(run_dir, flow_evidence=EVIDENCE)
