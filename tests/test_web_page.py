"""The web page in headless Chromium (Selenium): pick a user, give feedback, watch the list change."""

from __future__ import annotations

import shutil
from pathlib import Path

import httpx
import pytest
from selenium import webdriver
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import Select, WebDriverWait

from service_helpers import ARTIFACTS, ServerProcess

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMEDRIVER = shutil.which("chromedriver")


@pytest.fixture
def browser(tmp_path: Path):  # type: ignore[no-untyped-def]
    if CHROMIUM is None or CHROMEDRIVER is None:
        pytest.skip(
            "Chromium/ChromeDriver not installed (Debian: apt-get install chromium chromium-driver)"
        )
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--window-size=1280,900",
        f"--user-data-dir={tmp_path / 'chromium'}",
    ):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    yield driver
    driver.quit()


def test_pick_user_click_feedback_and_see_the_list_update(
    browser, data_dir: Path, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    server = ServerProcess(
        data_dir, f"sqlite:///{tmp_path / 'page.sqlite'}", "-d", "ml-100k", "-m", "itemknn"
    )
    try:
        wait = WebDriverWait(browser, 30)
        browser.get(server.url + "/")
        wait.until(lambda d: len(d.find_elements(By.CSS_SELECTOR, "#recs li")) == 10)
        assert "ml-100k" in browser.find_element(By.ID, "about").text

        picker = Select(browser.find_element(By.ID, "user-select"))
        picker.select_by_index(3)
        user = picker.first_selected_option.get_attribute("value")
        wait.until(lambda d: d.find_element(By.TAG_NAME, "body").get_attribute("data-user") == user)
        wait.until(lambda d: f"user {user}:" in d.find_element(By.ID, "status").text)
        before = [
            li.get_attribute("data-item")
            for li in browser.find_elements(By.CSS_SELECTOR, "#recs li")
        ]
        updates = browser.find_element(By.TAG_NAME, "body").get_attribute("data-updates")
        assert browser.find_elements(By.CSS_SELECTOR, "#recs .why")[0].text  # explanations shown

        button = browser.find_elements(By.CSS_SELECTOR, "#recs button.fb")[0]
        clicked = button.get_attribute("data-item")
        button.click()
        wait.until(
            lambda d: d.find_element(By.TAG_NAME, "body").get_attribute("data-updates") != updates
        )
        wait.until(lambda d: "recorded event" in d.find_element(By.ID, "status").text)
        newest = browser.find_elements(By.CSS_SELECTOR, "#history li")[0].get_attribute("data-item")
        after = [
            li.get_attribute("data-item")
            for li in browser.find_elements(By.CSS_SELECTOR, "#recs li")
        ]
        assert newest == clicked
        assert clicked not in after and after != before and len(after) == 10
        assert browser.find_elements(By.CSS_SELECTOR, "#recs li.new")  # new entries are marked
        # "why?" asks the service (no language model here: the evidence sentence comes back)
        first = browser.find_elements(By.CSS_SELECTOR, "#recs li")[0]
        first.find_element(By.CSS_SELECTOR, "button.ask").click()
        wait.until(lambda d: "(evidence," in first.find_element(By.CSS_SELECTOR, ".why").text)

        ARTIFACTS.mkdir(exist_ok=True)
        for path in (tmp_path / "web-page.png", ARTIFACTS / "web-page.png"):
            assert browser.save_screenshot(str(path)) and path.stat().st_size > 10_000
        stored = httpx.get(f"{server.url}/users/{user}").json()["history"]
        assert stored[-1]["item_id"] == clicked
    finally:
        server.stop()


def test_the_page_sends_an_api_key_from_its_address(
    browser, data_dir: Path, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    from lmrec.service.keys import create_key
    from lmrec.service.store import Store

    url = f"sqlite:///{tmp_path / 'keyed.sqlite'}"
    store = Store.open(url)
    key, _ = create_key(store, "read", "page")
    store.close()
    server = ServerProcess(data_dir, url, "-d", "ml-100k", "-m", "itemknn", "--auth", "required")
    try:
        assert httpx.post(f"{server.url}/recommend", json={"user_id": "1"}).status_code == 401
        wait = WebDriverWait(browser, 30)
        browser.get(f"{server.url}/#key={key}")
        wait.until(lambda d: len(d.find_elements(By.CSS_SELECTOR, "#recs li")) == 10)
    finally:
        server.stop()
