"""The HTML report of a real mis-wired run, opened in real headless Chromium (Debian chromium + chromium-driver,
driven with selenium): the matrix and the MAC table are read from the rendered DOM with their computed colours, the
page fetches nothing, cells link to their evidence, and a full-page screenshot is saved for people to look at
(reports/screenshots/report-<run-id>.png)."""

from __future__ import annotations

import json
import shutil
import struct
from typing import Any

import pytest

from tests.conftest import REPO

pytestmark = [pytest.mark.lab, pytest.mark.needs("selenium", "chromium")]

CHROMIUM, CHROMEDRIVER = shutil.which("chromium"), shutil.which("chromedriver")
SCREENSHOTS = REPO / "reports" / "screenshots"
COLOURS = {("passed", "reachable"): (220, 243, 225), ("passed", "isolated"): (227, 235, 246),
           ("failed", "reachable"): (249, 212, 212), ("failed", "isolated"): (249, 212, 212),
           ("broken", "reachable"): (253, 232, 180), ("broken", "isolated"): (253, 232, 180)}


def rgb(css: str) -> tuple[int, ...]:
    """(r, g, b) of a computed colour, whether Chromium says rgb(...) or rgba(..., 1)."""
    parts = [float(x) for x in css[css.index("(") + 1:css.index(")")].split(",")]
    assert len(parts) == 3 or parts[3] == 1, css
    return tuple(int(x) for x in parts[:3])


@pytest.fixture(scope="module")
def browser() -> Any:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--window-size=1400,1000", "--hide-scrollbars"):
        options.add_argument(arg)
    driver = webdriver.Chrome(service=Service(executable_path=str(CHROMEDRIVER)), options=options)
    try:
        yield driver
    finally:
        driver.quit()


def test_rendered_report_shows_the_matrix_and_mac_table(browser: Any,
                                                        tmp_path_factory: pytest.TempPathFactory) -> None:
    from selenium.webdriver.common.by import By

    from tests.helpers.lab_runs import lab_run
    run = lab_run(tmp_path_factory, "miswired")
    checks = {c["id"]: c for c in json.loads((run.dir / "checks.json").read_text())["checks"]}
    inventory = json.loads((run.dir / "inventory.json").read_text())["inventory"]
    browser.get((run.dir / "report.html").as_uri())
    assert browser.title.startswith(f"netattest · macvlan-only · run {run.dir.name}")
    assert browser.execute_script("return performance.getEntriesByType('resource').length") == 0
    assert browser.find_element(By.ID, "verdict").text == "EXPECTATIONS FAILED"

    cells = browser.find_elements(By.CSS_SELECTOR, "table.matrix td.cell:not(.c-none)")
    assert len(cells) == len(checks)
    seen: dict[str, int] = {}
    for cell in cells:
        status, expected = cell.get_attribute("data-status"), cell.get_attribute("data-expected")
        assert rgb(cell.value_of_css_property("background-color")) == COLOURS[(status, expected)]
        seen[status] = seen.get(status, 0) + 1
    assert seen == {s: sum(1 for c in checks.values() if c["status"] == s) for s in seen}
    assert seen["failed"] > 0 and seen["broken"] > 0 and seen["passed"] > 0

    tables = browser.find_elements(By.CSS_SELECTOR, "table.matrix")
    iso = next(t for t in tables if t.get_attribute("data-target") == "openshift")
    columns = [th.text.split("\n")[0] for th in iso.find_elements(By.CSS_SELECTOR, "th.col")]
    row = next(r for r in iso.find_elements(By.CSS_SELECTOR, "tbody tr")
               if r.get_attribute("data-source") == "pod-a@node1")
    leak = row.find_elements(By.CSS_SELECTOR, "td")[columns.index("node1/ens192")]
    assert leak.text == "ANSWERED ✗" and "router rogue" in leak.get_attribute("title")
    leak.find_element(By.TAG_NAME, "a").click()
    anchor = browser.execute_script("return location.hash").lstrip("#")
    target = browser.find_element(By.ID, anchor)
    assert "restricted->openshift:pod-a@node1->node1/ens192" in target.text
    where = browser.execute_script("const r = arguments[0].getBoundingClientRect(); "
                                   "return [r.top, window.innerHeight, window.scrollY]", target)
    assert -1 < where[0] < where[1] and where[2] > 0, where  # scrolled to the check's evidence

    rows = browser.find_elements(By.CSS_SELECTOR, "#mac-table tbody tr")
    pods = {f"{p['namespace']}/{p['name']}": p for p in inventory["pods"]}
    assert len(rows) == sum(len(p["attachments"]) for p in pods.values())
    for row in rows:
        text = [td.text for td in row.find_elements(By.TAG_NAME, "td")]
        pod = pods[text[0]]
        assert text[1] == (pod["node"] or "unscheduled")
        iface = pod["interfaces"].get("net1")
        assert text[7].split(" ")[0] == (iface["mac"] if iface else "—")
    pod_b = next(r for r in rows if r.get_attribute("data-pod") == "multus-test/pod-b")
    assert pod_b.find_elements(By.TAG_NAME, "td")[1].text == "node3"

    height = min(browser.execute_script("return document.documentElement.scrollHeight"), 9000)
    browser.set_window_size(1400, height)
    browser.execute_script("window.scrollTo(0, 0)")
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    shot = SCREENSHOTS / f"report-{run.dir.name}.png"
    assert browser.save_screenshot(str(shot))
    data = shot.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    width, png_height = struct.unpack(">II", data[16:24])
    assert width >= 1000 and png_height >= 2000 and len(data) > 100_000
