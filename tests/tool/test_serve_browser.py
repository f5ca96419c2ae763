"""`seq2seq serve` in a real browser: headless Chromium types a sentence
into the page and sees its translations and the attention heat map.

Driver: Selenium with Debian's chromedriver, which comes from the same
source package as Debian's chromium, so the two always match and nothing
is downloaded. The screenshot goes to tests/tool/artifacts/serve.png.
"""

import shutil
import tempfile
from pathlib import Path

import pytest
from serve_support import server, train_run

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMEDRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"
ARTIFACTS = Path(__file__).parent / "artifacts"
# Offline and quiet: no sandbox (tests may run as root), no GPU, and no
# background traffic (updates, sync, QUIC probes).
FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
    "--no-first-run", "--disable-background-networking",
    "--disable-component-update", "--disable-sync",
    "--window-size=1000,1100",
]  # fmt: skip


def _browser():
    if not (Path(CHROMIUM).exists() and Path(CHROMEDRIVER).exists()):
        pytest.skip(
            "no Chromium: install Debian's chromium and chromium-driver "
            "(make test does it where apt-get is usable)"
        )
    webdriver = pytest.importorskip("selenium.webdriver")
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in FLAGS:
        options.add_argument(flag)
    profile = tempfile.mkdtemp(prefix="chromium-profile-")
    options.add_argument(f"--user-data-dir={profile}")
    driver = webdriver.Chrome(
        options=options, service=Service(executable_path=CHROMEDRIVER)
    )
    return driver, profile


# The share of heat-map pixels that are neither white nor grey text: the
# cells the page painted with attention colour.
PAINTED = """
const canvas = arguments[0];
const data = canvas.getContext("2d").getImageData(
    0, 0, canvas.width, canvas.height).data;
let painted = 0;
for (let i = 0; i < data.length; i += 4) {
  const [r, g, b] = [data[i], data[i + 1], data[i + 2]];
  if (b - r > 20) { painted += 1; }
}
return painted / (data.length / 4);
"""


def test_page_shows_translations_and_heat_map(tmp_path_factory):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    driver, profile = _browser()
    run = train_run(tmp_path_factory.getbasetemp())
    try:
        with server(run) as (url, log):
            driver.get(url)
            driver.find_element(By.ID, "source").send_keys(
                "saturday 9 may 2018"
            )
            for name, value in (("beam", "3"), ("nbest", "3")):
                field = driver.find_element(By.ID, name)
                field.clear()
                field.send_keys(value)
            driver.find_element(By.ID, "go").click()
            WebDriverWait(driver, 60).until(
                lambda d: (
                    d.find_elements(By.CSS_SELECTOR, ".nbest .text")
                    or d.find_element(By.ID, "error").text
                )
            )
            assert driver.find_element(By.ID, "error").text == ""
            texts = [
                e.text
                for e in driver.find_elements(By.CSS_SELECTOR, ".nbest .text")
            ]
            scores = [
                e.text
                for e in driver.find_elements(By.CSS_SELECTOR, ".nbest .score")
            ]
            canvas = driver.find_element(By.CSS_SELECTOR, "canvas.heatmap")
            rows = int(canvas.get_attribute("data-rows"))
            columns = int(canvas.get_attribute("data-columns"))
            painted = driver.execute_script(PAINTED, canvas)
            ARTIFACTS.mkdir(exist_ok=True)
            driver.save_screenshot(str(ARTIFACTS / "serve.png"))
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)
    # Three different hypotheses, best first (a 200-step model writes
    # dates, but its third-best need not be a well-formed one).
    assert len(texts) == 3 and len(set(texts)) == 3 and all(texts)
    assert texts[0][:2] in ("19", "20"), texts
    values = [float(s.split()[-1]) for s in scores]
    assert values == sorted(values, reverse=True)
    # The map: one row per output character, one column per input one.
    assert rows == len(texts[0]) and columns == len("saturday 9 may 2018")
    assert painted > 0.01
    assert any('"POST /translate" 200' in line for line in log)
