"""The console's state-changing actions: POST forms with a CSRF token and a confirmation step.

A form posted without ``confirm=yes`` answers a confirmation page (so the action is confirmed
with or without JavaScript); with it, the action runs through the same function the REST API
handler calls and the browser is redirected (303) to the page that shows the outcome.
"""

from __future__ import annotations

import hmac
import logging
from typing import Any
from urllib.parse import quote

from quart import Response, g, redirect, render_template, request

from stargraph._http import answer_for
from stargraph._log import log_event
from stargraph.errors import StargraphError
from stargraph.scheduler.cancel import cancel_unless_finished
from stargraph.scheduler.rerun import retry_run
from stargraph.serve._errors import ApiError
from stargraph.serve._input import check_text
from stargraph.serve._state import current_runtime, current_state
from stargraph.serve._triggers import fire, pause, resume
from stargraph.serve.api_runs import run_with_attempts
from stargraph.serve.console._guard import codec, set_session_cookie
from stargraph.serve.console._session import COOKIE, Session
from stargraph.serve.console.pages import console_bp, safe_next

__all__ = ["console_bp"]

logger = logging.getLogger("stargraph.serve")


async def _confirmed(action: str, target: str, back: str) -> Response | None:
    """``None`` when the form says ``confirm=yes``; else the confirmation page."""
    form = await request.form
    if form.get("confirm") == "yes":
        return None
    page = await render_template(
        "console/confirm.html", action=action, target=target, back=back,
        note=form.get("note", ""),
    )  # fmt: skip
    return Response(page, status=200, content_type="text/html; charset=utf-8")


def _run_path(run_id: str) -> str:
    return "/ui/runs/" + quote(run_id, safe="")


def _see(path: str, notice: str) -> Response:
    return redirect(f"{path}?notice={notice}", 303)  # type: ignore[return-value]


@console_bp.post("/runs/<run_id>/cancel")
async def cancel(run_id: str) -> Any:
    """Cancel a pending or running run (409 once it has finished)."""
    run, _ = await run_with_attempts(current_runtime().scheduler, run_id)
    if (page := await _confirmed("cancel", f"run {run.run_id}", _run_path(run.run_id))) is not None:
        return page
    await cancel_unless_finished(current_runtime().scheduler, run.run_id)
    return _see(_run_path(run.run_id), "cancelled")


@console_bp.post("/runs/<run_id>/retry")
async def retry(run_id: str) -> Any:
    """Enqueue a new run retrying a finished one (409 before it has ended)."""
    run, _ = await run_with_attempts(current_runtime().scheduler, run_id)
    if (page := await _confirmed("retry", f"run {run.run_id}", _run_path(run.run_id))) is not None:
        return page
    done = await retry_run(current_runtime().scheduler, run.run_id)
    return _see(_run_path(done.run_id), "retried")


async def _note() -> str | None:
    note = ((await request.form).get("note") or "").strip()
    return check_text(note, "note", "bad_body") if note else None


@console_bp.post("/triggers/<trigger_id>/<action>")
async def trigger_action(trigger_id: str, action: str) -> Any:
    """Pause, resume or fire a trigger now."""
    if action not in ("pause", "resume", "fire"):
        raise ApiError(404, "not_found", f"no trigger action {action!r}; use pause, resume, fire")
    if (page := await _confirmed(action, f"trigger {trigger_id}", "/ui/triggers")) is not None:
        return page
    runtime = current_runtime()
    if action == "fire":
        done = await fire(runtime, trigger_id)
        return _see(_run_path(done.run_id), "fired")
    if action == "pause":
        await pause(runtime, trigger_id, await _note())
    else:
        await resume(runtime, trigger_id)
    return _see("/ui/triggers", f"{action}d")


@console_bp.post("/login")
async def login_post() -> Any:
    """Exchange the API token for a session cookie (a new session: new CSRF token)."""
    token = current_state().api_token
    form = await request.form
    given = form.get("token", "").strip()
    target = safe_next(form.get("next"))
    if token is None or not hmac.compare_digest(given.encode(), token.encode()):
        log_event(logger, "console.login_failed", logging.WARNING, client=request.remote_addr)
        page = await render_template("console/login.html", next=target, failed=True)
        return Response(page, status=401, content_type="text/html; charset=utf-8")
    session = Session.fresh(auth=codec().fingerprint(token))
    g.console_session = session
    response: Response = redirect(target, 303)  # type: ignore[assignment]
    set_session_cookie(response, session)
    log_event(logger, "console.login", client=request.remote_addr)
    return response


@console_bp.post("/logout")
async def logout() -> Any:
    """End the session: the cookie is dropped and a fresh anonymous one replaces it."""
    response: Response = redirect("/ui/login?notice=logged-out", 303)  # type: ignore[assignment]
    g.console_cookie = False
    response.delete_cookie(COOKIE, path="/ui")
    return response


@console_bp.errorhandler(ApiError)
async def _api_error(exc: ApiError) -> Any:
    return await _error_page(exc.status, exc.code, exc.message)


@console_bp.errorhandler(StargraphError)
async def _stargraph_error(exc: StargraphError) -> Any:
    answer = answer_for(exc)
    if answer.status >= 500:
        log_event(logger, "console.error", logging.ERROR, error_type=type(exc).__name__)
    return await _error_page(answer.status, answer.code, answer.message)


async def _error_page(status: int, code: str, message: str) -> Response:
    page = await render_template("console/error.html", status=status, code=code, message=message)
    return Response(page, status=status, content_type="text/html; charset=utf-8")
