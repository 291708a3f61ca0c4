"""Report charts drawn by the vendored Chart.js under the panel's Content-Security-Policy,
in a real browser."""

import json

from tests.browser.conftest import screenshot, sign_in


def test_sales_report_draws_its_charts_without_inline_script(page, live_server):
    problems = []
    page.on("pageerror", lambda error: problems.append(str(error)))
    # A CSP violation is reported on the console; the panel has no favicon (a 404).
    page.on("console", lambda message: message.type == "error"
            and "404" not in message.text and problems.append(message.text))
    sign_in(page, live_server, "admin", "admin1234")
    page.goto(f"{live_server.url}/reports/sales?preset=last_90_days&step=week&compare=1")
    page.wait_for_selector("canvas[data-drawn='1']")
    assert page.locator("canvas[data-drawn='1']").count() == 3
    assert page.locator("html").get_attribute("dir") == "rtl"
    assert "فروش و مراجعه" in page.inner_text("h1")
    # Chart.js drew something: the canvas is no longer blank.
    painted = page.evaluate("""() => {
        const canvas = document.querySelector("canvas[data-drawn='1']");
        const pixels = canvas.getContext("2d").getImageData(0, 0, canvas.width, canvas.height);
        return pixels.data.some((value) => value !== 0);
    }""")
    assert painted
    screenshot(page, "reports-sales-fa")
    page.click("#export")  # a download, not a navigation: the page stays
    assert not problems, problems


def test_cohort_heat_map(page, live_server):
    sign_in(page, live_server, "admin", "admin1234")
    page.goto(f"{live_server.url}/reports/cohorts")
    page.wait_for_selector("table.heat")
    assert page.locator("table.heat thead th").count() >= 3


def test_the_demo_club_in_the_reports_for_the_docs(page, demo_server):
    """The demo's past on the report pages, in Persian: the screenshots in
    docs/reports.md (refreshed with VAFA_UPDATE_SCREENSHOT=1)."""
    problems = []
    page.on("pageerror", lambda error: problems.append(str(error)))
    sign_in(page, demo_server, "admin", "admin1234")
    page.goto(f"{demo_server.url}/reports/sales?preset=last_12_months&step=month")
    page.wait_for_selector("canvas[data-drawn='1']")
    spec = json.loads(page.locator("canvas[data-chart]").first.get_attribute("data-chart"))
    sales = spec["datasets"][0]["data"]
    assert len(sales) >= 12 and sum(value > 0 for value in sales) >= 10  # months of visits
    screenshot(page, "reports-demo-sales-fa", docs=True)
    page.set_viewport_size({"width": 1500, "height": 900})  # every column in sight
    page.goto(f"{demo_server.url}/reports/campaigns")
    page.wait_for_selector("canvas[data-drawn='1']")
    assert "جشنوارهٔ پاییز" in page.inner_text("#table-campaigns")
    assert page.locator("#campaigns-definition").is_visible()
    screenshot(page, "reports-demo-campaigns-fa", docs=True)
    page.click("#table-campaigns td a")  # the campaign's own page, with the same numbers
    page.wait_for_selector("#campaign-effect")
    assert page.get_attribute("#effect-verdict", "data-verdict") == "too_few"
    screenshot(page, "messages-demo-campaign-fa")
    assert not problems, problems
