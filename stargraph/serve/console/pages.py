"""The console's pages (``GET /ui/...``): overview, runs, run, triggers, plugins, login."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

from quart import Blueprint, redirect, render_template, request

from stargraph.serve._state import current_runtime, current_state
from stargraph.serve._triggers import describe_all, plugin_statuses
from stargraph.serve.api_runs import list_page, run_with_attempts
from stargraph.serve.console._data import console_filter, overview
from stargraph.serve.console._guard import current_session
from stargraph.store.base import RunStatus
from stargraph.triggers import TriggerSource

__all__ = ["console_bp"]

console_bp = Blueprint(
    "stargraph_console", __name__, url_prefix="/ui", template_folder="templates",
    static_folder="static", static_url_path="/static",
)  # fmt: skip

#: The only notices a redirect may ask a page to show (no text is echoed from the URL).
NOTICES = {
    "cancelled": "Cancel requested.",
    "retried": "Retry enqueued: this is the new run.",
    "fired": "Fired: this is the run it enqueued.",
    "paused": "Trigger paused.",
    "resumed": "Trigger resumed.",
    "logged-out": "Logged out.",
}


@console_bp.context_processor
def _common() -> dict[str, Any]:
    return {
        "csrf": current_session().csrf,
        "login_required": current_state().api_token is not None,
        "notice": NOTICES.get(request.args.get("notice", "")),
        "path": request.path,
    }


@console_bp.get("/")
async def index() -> Any:
    """Overview: counts, charts, queue depth, fire lag, what needs attention."""
    return await render_template("console/overview.html", **await overview(current_runtime()))


@console_bp.get("/runs")
async def runs() -> Any:
    """Runs, newest first, filtered, one keyset page at a time."""
    flt, limit, cursor, given = console_filter(request.args)
    page = await list_page(current_runtime().scheduler, flt, limit, cursor)
    base = {k: v for k, v in sorted(given.items()) if k != "cursor"}
    nxt = page.next_cursor and "/ui/runs?" + urlencode({**base, "cursor": page.next_cursor})
    return await render_template(
        "console/runs.html", page=page, given=given, next_href=nxt,
        since_value=_local_input(flt.enqueued_after), until_value=_local_input(flt.enqueued_before),
        first_href=cursor and "/ui/runs?" + urlencode(base),
        statuses=list(RunStatus), sources=list(TriggerSource),
    )  # fmt: skip


def _local_input(value: datetime | None) -> str:
    """*value* as a ``datetime-local`` field shows it, in UTC ('' for none)."""
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S") if value else ""


@console_bp.get("/runs/<run_id>")
async def run(run_id: str) -> Any:
    """One run: params, result, attempts with tracebacks, timings, actions."""
    item, attempts = await run_with_attempts(current_runtime().scheduler, run_id)
    return await render_template("console/run.html", run=item, attempts=attempts)


@console_bp.get("/triggers")
async def triggers() -> Any:
    """Every hosted trigger id with its schedule, fires, policies, state and actions."""
    runtime = current_runtime()
    plugins = {p.name: p for p in plugin_statuses(runtime)}
    items = await describe_all(runtime)
    return await render_template("console/triggers.html", triggers=items, plugins=plugins)


@console_bp.get("/plugins")
async def plugins() -> Any:
    """The plugin load report and each hosted plugin's state."""
    items = plugin_statuses(current_runtime())
    return await render_template("console/plugins.html", plugins=items)


@console_bp.get("/login")
async def login() -> Any:
    """The login form (only when an API token is configured)."""
    if current_state().api_token is None:
        return redirect("/ui/", 303)
    return await render_template("console/login.html", next=safe_next(request.args.get("next")))


def safe_next(value: str | None) -> str:
    """*value* when it is a console path on this site, else the overview."""
    if value and value.startswith("/ui") and not value.startswith("//") and "\\" not in value:
        return value
    return "/ui/"
