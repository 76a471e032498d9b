"""Cancel, retry, pause, resume and fire now from the console change state as the API confirms."""

from __future__ import annotations

from typing import Any

import anyio

from .conftest import Console
from .test_pages import enqueue, finished


async def wait_status(c: Console, run_id: str, *statuses: str) -> dict[str, Any]:
    with anyio.fail_after(10):
        while True:
            run: dict[str, Any] = (await c.api.get(f"/v1/runs/{run_id}")).json()
            if run["status"] in statuses:
                return run
            await anyio.sleep(0.02)


async def post(c: Console, path: str, **form: str) -> Any:
    return await c.browser.post(path, data={"csrf": await c.csrf(), **form})


async def test_cancel_asks_first_then_cancels(console: Console) -> None:
    run_id = await enqueue(console, "slow")
    await wait_status(console, run_id, "running")
    html = (await console.browser.get(f"/ui/runs/{run_id}")).text
    assert f'action="/ui/runs/{run_id}/cancel"' in html and 'data-confirm="Cancel run' in html
    ask = await post(console, f"/ui/runs/{run_id}/cancel")
    assert ask.status_code == 200 and "Confirm: cancel" in ask.text
    assert (await console.api.get(f"/v1/runs/{run_id}")).json()["status"] == "running"
    done = await post(console, f"/ui/runs/{run_id}/cancel", confirm="yes")
    assert done.status_code == 303
    assert done.headers["Location"] == f"/ui/runs/{run_id}?notice=cancelled"
    assert (await wait_status(console, run_id, "cancelled"))["cancel_requested"]
    shown = (await console.browser.get(done.headers["Location"])).text
    assert "Cancel requested." in shown


async def test_cancel_of_a_finished_run_is_409(console: Console) -> None:
    run_id = await enqueue(console, "ok")
    await finished(console, run_id)
    response = await post(console, f"/ui/runs/{run_id}/cancel", confirm="yes")
    assert response.status_code == 409 and "run finished" in response.text


async def test_retry_enqueues_a_new_run(console: Console) -> None:
    run_id = await enqueue(console, "fail")
    await finished(console, run_id)
    response = await post(console, f"/ui/runs/{run_id}/retry", confirm="yes")
    assert response.status_code == 303
    new_id = response.headers["Location"].split("/ui/runs/", 1)[1].split("?", 1)[0]
    assert new_id != run_id
    assert (await console.api.get(f"/v1/runs/{new_id}")).json()["retry_of"] == run_id


async def test_pause_resume_and_fire_now(console: Console) -> None:
    base = "/ui/triggers/cron:yearly"
    paused = await post(console, f"{base}/pause", confirm="yes", note="from the console")
    assert paused.status_code == 303 and paused.headers["Location"] == "/ui/triggers?notice=paused"
    info = (await console.api.get("/v1/triggers/cron:yearly")).json()
    assert info["paused"] and info["note"] == "from the console"
    html = (await console.browser.get("/ui/triggers?notice=paused")).text
    assert "Trigger paused." in html and 'action="/ui/triggers/cron%3Ayearly/resume"' in html
    assert (await post(console, f"{base}/resume", confirm="yes")).status_code == 303
    assert not (await console.api.get("/v1/triggers/cron:yearly")).json()["paused"]
    fired = await post(console, f"{base}/fire", confirm="yes")
    run_id = fired.headers["Location"].split("/ui/runs/", 1)[1].split("?", 1)[0]
    run = (await console.api.get(f"/v1/runs/{run_id}")).json()
    assert run["trigger_id"] == "cron:yearly" and run["trigger_source"] == "cron"


async def test_unknown_trigger_or_action_is_404(console: Console) -> None:
    for path in ("/ui/triggers/nope/pause", "/ui/triggers/cron:yearly/explode"):
        response = await post(console, path, confirm="yes")
        assert response.status_code == 404, path
