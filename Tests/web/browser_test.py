"""The clinician web UI in a real headless Chromium (Debian's chromium and chromium-driver),
driven by Selenium: sign in, find a visit, see its chart and transcript, play its audio,
acknowledge an escalation, sign out; another clinic gets 404; a form without its CSRF token is
refused; markup in a transcript shows as text; the session cookie is out of JavaScript's
reach; new visits appear without a reload; the pages work by keyboard and with JavaScript
off; axe-core finds no serious or critical violation on any page. Screenshots of every page at
tablet and desktop widths go to --screenshots.

Run by the Swift test WebBrowserTests, which starts the relay and seeds it; the fixture's
facts come as one JSON argument.
"""
import argparse
import json
import os
import sys
import time
import urllib.request

import axe_core_python
from axe_selenium_python import Axe
from selenium import webdriver
from selenium.common.exceptions import NoAlertPresentException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support.ui import WebDriverWait

WIDTHS = {"desktop": (1280, 900), "tablet": (820, 1180)}
# axe-core 4 (axe-core-python ships it; axe-selenium-python's own copy is 3.1), run through axe-selenium-python.
AXE_SCRIPT = os.path.join(os.path.dirname(axe_core_python.__file__), "axe.min.js")
failures = []


def check(condition, message):
    if condition:
        print(f"ok   {message}")
    else:
        print(f"FAIL {message}")
        failures.append(message)


def browser(javascript=True):
    options = webdriver.ChromeOptions()
    options.binary_location = "/usr/bin/chromium"
    for flag in ["--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu", "--window-size=1280,900",
                 "--autoplay-policy=no-user-gesture-required", "--mute-audio"]:
        options.add_argument(flag)
    if not javascript:
        options.add_experimental_option("prefs", {"profile.managed_default_content_settings.javascript": 2})
    return webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)


def fetch_status(driver, method, path, body=None):
    """The status of a same-origin request made by the page's own JavaScript (cookies included)."""
    return driver.execute_async_script(
        """
        const [method, path, body, done] = arguments;
        fetch(path, {method, credentials: "same-origin", redirect: "manual",
                     headers: body === null ? {} : {"Content-Type": "application/x-www-form-urlencoded"},
                     body: body === null ? undefined : body})
          .then(r => done(r.status)).catch(e => done(String(e)));
        """, method, path, body)


def audit_and_capture(driver, name, args):
    """axe-core at both widths, and a screenshot at each."""
    for label, (width, height) in WIDTHS.items():
        driver.set_window_size(width, height)
        time.sleep(0.2)
        axe = Axe(driver, script_url=AXE_SCRIPT)
        axe.inject()
        results = axe.run(options='{"resultTypes": ["violations"]}')
        serious = [v for v in results["violations"] if v.get("impact") in ("serious", "critical")]
        detail = "; ".join(f"{v['id']} ({v['impact']}): {v['help']} at {[n['target'] for n in v['nodes']][:3]}" for v in serious)
        check(not serious, f"axe on {name} at {label} width: no serious or critical violations {detail}")
        # The whole page, not only the window.
        total = driver.execute_script("return Math.max(document.body.scrollHeight, document.documentElement.scrollHeight)")
        driver.set_window_size(width, min(max(height, total + 120), 6000))
        driver.save_screenshot(os.path.join(args.screenshots, f"{name}-{label}.png"))
    driver.set_window_size(*WIDTHS["desktop"])


def sign_in(driver, base, email, password):
    driver.get(base + "/login")
    driver.find_element(By.ID, "email").send_keys(email)
    driver.find_element(By.ID, "password").send_keys(password + Keys.ENTER)
    WebDriverWait(driver, 10).until(lambda d: "/login" not in d.current_url)


def sign_out(driver):
    driver.find_element(By.CSS_SELECTOR, "form.signout button").click()
    WebDriverWait(driver, 10).until(lambda d: "/login" in d.current_url)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("fixture", help="JSON: url, password, nurse, admin, other, escalated, markup, markup_text, audio, live_session, live_token")
    parser.add_argument("--screenshots", required=True)
    args = parser.parse_args()
    fixture = json.loads(args.fixture)
    base = fixture["url"]
    os.makedirs(args.screenshots, exist_ok=True)

    driver = browser()
    try:
        driver.get(base + "/login")
        Axe(driver, script_url=AXE_SCRIPT).inject()
        print("axe-core " + driver.execute_script("return axe.version"))
        audit_and_capture(driver, "login", args)
        # Keyboard alone: the skip link, then the fields and the button, in order.
        driver.find_element(By.TAG_NAME, "body").send_keys(Keys.TAB)
        order = []
        for _ in range(5):
            active = driver.switch_to.active_element
            order.append(active.get_attribute("id") or active.get_attribute("class") or active.tag_name)
            active.send_keys(Keys.TAB)
        check(order == ["skip", "brand", "email", "password", "button"], f"the sign-in page is reached by Tab in order: {order}")

        driver.get(base + "/login")
        driver.find_element(By.ID, "email").send_keys(fixture["nurse"])
        driver.find_element(By.ID, "password").send_keys("wrong password" + Keys.ENTER)
        WebDriverWait(driver, 10).until(lambda d: d.find_elements(By.CSS_SELECTOR, "[role=alert]"))
        check("not right" in driver.find_element(By.CSS_SELECTOR, "[role=alert]").text, "a wrong password is told, in words")
        audit_and_capture(driver, "login-failed", args)

        sign_in(driver, base, fixture["nurse"], fixture["password"])
        check(driver.current_url.endswith("/sessions"), "signed in, on the visits list")
        check("hh_session" not in driver.execute_script("return document.cookie"), "the session cookie is not readable from JavaScript")
        cookie = driver.get_cookie("hh_session")
        check(cookie is not None and cookie.get("httpOnly") and cookie.get("sameSite") == "Lax", f"the session cookie is HttpOnly, SameSite=Lax: {cookie}")
        audit_and_capture(driver, "sessions", args)

        # A form posted without its CSRF token is refused and changes nothing.
        status = fetch_status(driver, "POST", f"/sessions/{fixture['escalated']}/acknowledge", "next=%2Fsessions")
        check(status == 403, f"acknowledging without the CSRF token answers 403 (got {status})")
        driver.refresh()
        check(len(driver.find_elements(By.CSS_SELECTOR, ".attention")) == 1, "the escalation is still pinned after the refused form")

        # Live: a visit uploaded now appears without a reload.
        marker = driver.execute_script("window.__notReloaded = true; return true")
        request = urllib.request.Request(base + "/v1/sessions", data=fixture["live_session"].encode(), method="POST",
                                         headers={"Authorization": "Bearer " + fixture["live_token"], "Content-Type": "application/json"})
        check(urllib.request.urlopen(request).status == 201, "a new visit uploaded by the kiosk")
        live_link = f"a[href='/sessions/{fixture['live_id']}']"
        try:
            WebDriverWait(driver, 30).until(lambda d: d.find_elements(By.CSS_SELECTOR, live_link))
            appeared = True
        except Exception:
            appeared = False
        check(appeared and marker and driver.execute_script("return window.__notReloaded === true"), "the new visit appeared without a reload")

        # Find the escalated visit and open it by keyboard.
        link = driver.find_element(By.CSS_SELECTOR, f".attention a[href='/sessions/{fixture['escalated']}']")
        link.send_keys(Keys.ENTER)
        WebDriverWait(driver, 10).until(lambda d: fixture["escalated"] in d.current_url)
        check(len(driver.find_elements(By.CSS_SELECTOR, "figure.chart svg polyline.line")) >= 1, "the heart-rate chart is drawn")
        check(len(driver.find_elements(By.CSS_SELECTOR, "svg line.median")) >= 1, "the median is marked")
        check("I have chest pain" in driver.find_element(By.CSS_SELECTOR, ".transcript").text, "the transcript is shown")
        audit_and_capture(driver, "visit-escalated", args)

        audio = driver.find_element(By.CSS_SELECTOR, f"audio[src='{fixture['audio']}']")
        played = driver.execute_async_script(
            """
            const [audio, done] = arguments;
            audio.play().then(() => setTimeout(() => done({time: audio.currentTime, duration: audio.duration, error: audio.error && audio.error.code}), 400))
                        .catch(e => done({error: String(e)}));
            """, audio)
        check(played.get("error") is None and played.get("time", 0) > 0 and played.get("duration", 0) > 0.4, f"the patient's audio plays: {played}")

        # Acknowledge from the visit page.
        driver.find_element(By.CSS_SELECTOR, ".banner.escalated button").click()
        WebDriverWait(driver, 10).until(lambda d: d.find_elements(By.CSS_SELECTOR, ".banner.acknowledged"))
        check("acknowledged" in driver.find_element(By.CSS_SELECTOR, ".banner.acknowledged").text, "the escalation is acknowledged")
        driver.get(base + "/sessions")
        check(not driver.find_elements(By.CSS_SELECTOR, ".attention"), "an acknowledged escalation is no longer pinned")

        # Markup in a transcript is text, and runs nothing.
        driver.get(base + f"/sessions/{fixture['markup']}")
        words = [e.text for e in driver.find_elements(By.CSS_SELECTOR, ".said.patient .words")]
        check(fixture["markup_text"] in words, f"the transcript's markup shows as text: {words}")
        try:
            driver.switch_to.alert
            check(False, "no script from a transcript ran")
        except NoAlertPresentException:
            check(True, "no script from a transcript ran")
        check(not driver.find_elements(By.CSS_SELECTOR, ".said.patient .words b"), "no element made from a transcript")
        audit_and_capture(driver, "visit-markup", args)

        driver.get(base + "/sessions/00000000-0000-4000-8000-000000000000")
        audit_and_capture(driver, "not-found", args)
        sign_out(driver)
        check("/login" in driver.current_url and driver.get_cookie("hh_session") is None, "signed out")
        driver.get(base + f"/sessions/{fixture['escalated']}")
        check("/login" in driver.current_url, "after signing out the visit asks for sign-in")

        # The admin's pages.
        sign_in(driver, base, fixture["admin"], fixture["password"])
        for name, path in [("kiosks", "/kiosks"), ("audit", "/audit"), ("revoke-confirm", f"/kiosks/{fixture['kiosk']}/revoke")]:
            driver.get(base + path)
            audit_and_capture(driver, name, args)
        driver.get(base + "/audit")
        check("play audio" in driver.page_source and "acknowledge" in driver.page_source, "the audit log shows the playback and the acknowledgement")
        sign_out(driver)

        # Another clinic: the same URLs answer 404.
        sign_in(driver, base, fixture["other"], fixture["password"])
        for path in [f"/sessions/{fixture['escalated']}", f"/sessions/{fixture['escalated']}/export.fhir.json", fixture["audio"]]:
            status = fetch_status(driver, "GET", path)
            check(status == 404, f"another clinic gets 404 for {path} (got {status})")
        driver.get(base + f"/sessions/{fixture['escalated']}")
        check("Not found" in driver.title, "another clinic's visit page says Not found")
        sign_out(driver)
    finally:
        driver.quit()

    # With JavaScript off: sign in, list, open a visit, acknowledge nothing breaks.
    plain = browser(javascript=False)
    try:
        sign_in(plain, base, fixture["nurse"], fixture["password"])
        check(plain.current_url.endswith("/sessions"), "without JavaScript: signed in")
        plain.find_element(By.CSS_SELECTOR, f"a[href='/sessions/{fixture['markup']}']").click()
        WebDriverWait(plain, 10).until(lambda d: fixture["markup"] in d.current_url)
        check(len(plain.find_elements(By.CSS_SELECTOR, "figure.chart svg")) >= 1, "without JavaScript: the visit and its chart")
        sign_out(plain)
        check("/login" in plain.current_url, "without JavaScript: signed out")
    finally:
        plain.quit()

    print(f"{len(failures)} failures")
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
