"""The runs page's filters in a real Chromium: each narrows the list exactly as the API does."""

from __future__ import annotations

from typing import Any

from console_server import Console
from page_watch import open_page


def _shown(page: Any) -> set[str]:
    """The run ids in the runs table (its row headers link each run)."""
    return set(page.locator("table.runs tbody th a").all_inner_texts())


def _api(console: Console, **query: str) -> set[str]:
    items = console.api.get("/v1/runs", params={"limit": "500", **query}).json()["items"]
    return {item["run_id"] for item in items}


FILTERS = [
    ("Graph", "fail", {"graph_id": "fail"}),
    ("Status", "succeeded", {"status": "succeeded"}),
    ("Trigger", "fs:inbox", {"trigger_id": "fs:inbox"}),
    ("Source", "webhook", {"trigger_source": "webhook"}),
]


def _apply(page: Any, field: str, value: str) -> None:
    """Set one filter field on a fresh runs page and submit the form."""
    page.goto("/ui/runs")
    control = page.get_by_label(field, exact=True)
    if control.evaluate("e => e.tagName") == "SELECT":
        control.select_option(value)
    else:
        control.fill(value)
    with page.expect_navigation():
        page.get_by_role("button", name="Filter").click()


def test_each_filter_narrows_the_list(context: Any, console: Console) -> None:
    page, watch = open_page(context)
    page.goto("/ui/runs")
    everything = _shown(page)
    for field, value, query in FILTERS:
        _apply(page, field, value)
        narrowed, matching = _shown(page), _api(console, **query)
        assert narrowed and narrowed <= matching, (field, narrowed, matching)
        assert everything - matching, f"{field}={value} would remove nothing: cannot fail"
        assert page.get_by_label(field, exact=True).input_value() == value  # the form keeps it
    watch.check()


def test_a_time_range_in_the_future_empties_the_list(context: Any, console: Console) -> None:
    page, watch = open_page(context)
    _apply(page, "Enqueued since (UTC)", "2099-01-01T00:00:00")
    assert _shown(page) == set() and "No run matches" in page.inner_text("body")
    assert page.get_by_label("Enqueued since (UTC)").input_value().startswith("2099-01-01T00:00")
    watch.check()
