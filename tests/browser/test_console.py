"""The console in headless Chromium: alert review (live over SSE, one-key verdicts), a
rejection that becomes a miss event on the bus, a promotion, adding a camera and its page,
the labeling flow; axe-core finds no serious or critical violation on any page."""
from __future__ import annotations

import pytest

from tests.browser.conftest import ALG, check_accessibility, sign_in

pytestmark = [pytest.mark.browser, pytest.mark.slow]


@pytest.fixture()
def page(browser):
    ctx = browser.new_context(viewport={"width": 1360, "height": 900})
    p = ctx.new_page()
    errors: list[str] = []
    p.on("pageerror", lambda e: errors.append(str(e)))
    yield p
    ctx.close()
    assert errors == [], f"JavaScript errors on the page: {errors}"


def test_alert_review_and_a_rejection_becomes_a_miss(live, page, artifacts):
    sign_in(page, live, "operator")
    page.goto(live.base + "/console/#/alerts")
    page.wait_for_selector("#live-state:has-text('live')")
    first = live.publish_alert("road-cam-1")
    second = live.publish_alert("road-cam-2")
    card = page.wait_for_selector(f"[data-alert-id='{second}']", timeout=10_000)  # arrived over the live stream
    page.wait_for_selector(f"[data-alert-id='{second}'] .evidence img")
    page.wait_for_function(f"document.querySelector(\"[data-alert-id='{second}'] .evidence img\").naturalWidth > 0")
    page.wait_for_selector(f"[data-alert-id='{second}'] .evidence svg rect")  # the box over the snapshot
    assert "selected" in card.get_attribute("class")  # the newest is selected
    page.screenshot(path=str(artifacts / "alert-wall.png"), full_page=True)

    page.keyboard.press("r")  # one key rejects the selected alert
    page.wait_for_selector(f"[data-alert-id='{second}'].rejected")
    misses = live.wait_for("miss-events", lambda v: v.get("alert_id") == second)
    assert len(misses) == 1 and misses[0].value["kind"] == "false_alarm" and misses[0].value["algorithm_id"] == ALG
    page.click(f"[data-alert-id='{first}'] button.confirm")
    page.wait_for_selector(f"[data-alert-id='{first}'].confirmed")
    assert live.ops.get_alert(first)["status"] == "confirmed" and live.ops.get_alert(second)["status"] == "rejected"
    page.keyboard.press("r")  # rejecting again does nothing: the alert is decided
    assert len(live.wait_for("miss-events", lambda v: v.get("alert_id") == second, timeout_s=1.5)) == 1

    page.select_option("#f-region", "harbor")  # filters: only the south camera's alerts
    page.click("#alert-filters button[type=submit]")
    page.wait_for_function(f"!document.querySelector(\"[data-alert-id='{first}']\")")
    assert page.query_selector(f"[data-alert-id='{second}']") is not None
    page.wait_for_selector("#summary table")
    assert "downtown" in page.inner_text("#summary") and "road-cam-2" in page.inner_text("#summary")
    page.screenshot(path=str(artifacts / "alert-wall-reviewed.png"), full_page=True)
    assert check_accessibility(page, "alerts") == []


def test_an_alert_shown_before_the_store_has_it_still_gets_its_evidence(live, page):
    """The live stream runs ahead of the store's ingest: the card's evidence request meets 404
    until the alert is stored, and the console retries instead of showing a failure."""
    sign_in(page, live, "operator")
    page.goto(live.base + "/console/#/alerts")
    page.wait_for_selector("#live-state:has-text('live')")
    live.ingest_paused.set()
    assert live.ingest_idle.wait(5), "the consumer loop did not pause"
    try:
        early = live.publish_alert("road-cam-1")
        page.wait_for_selector(f"[data-alert-id='{early}']", timeout=10_000)
        page.wait_for_timeout(1200)  # several 404s meanwhile
        assert page.query_selector(f"[data-alert-id='{early}'] .evidence img") is None
        assert "unavailable" not in page.inner_text(f"[data-alert-id='{early}'] .evidence")
    finally:
        live.ingest_paused.clear()
    page.wait_for_function(f"document.querySelector(\"[data-alert-id='{early}'] .evidence img\")?.naturalWidth > 0", timeout=15_000)


def test_a_page_replaced_while_it_still_renders_leaves_nothing_running(live, page):
    """Sign-in routes, then a link changes the hash, while the first render still waits for the
    server: only the newer page may live (one alert wall, one key handler: one verdict per key)."""
    sign_in(page, live, "operator")
    page.goto(live.base + "/console/#/alerts")
    page.wait_for_selector("#live-state:has-text('live')")
    posts: list[str] = []
    page.on("request", lambda r: posts.append(r.url) if r.method == "POST" and r.url.endswith("/feedback") else None)
    with page.expect_response(lambda r: "/alerts?" in r.url) as first, page.expect_response(lambda r: "/alerts?" in r.url):
        page.evaluate("() => { route(); route(); }")  # the first render is still awaiting /cameras when the second starts
    first.value.finished()
    page.wait_for_selector("#live-state:has-text('live')")
    page.wait_for_timeout(300)  # both renders have resumed by now
    assert page.evaluate("document.querySelectorAll('#wall').length") == 1
    alert = live.publish_alert("road-cam-1")
    page.wait_for_selector(f"[data-alert-id='{alert}'].selected", timeout=10_000)
    page.keyboard.press("r")
    page.wait_for_selector(f"[data-alert-id='{alert}'].rejected")
    page.wait_for_timeout(500)
    assert len(posts) == 1 and live.ops.get_alert(alert)["status"] == "rejected"


def test_promotion_from_the_algorithm_page(live, page, artifacts):
    sign_in(page, live, "admin")
    page.goto(live.base + f"/console/#/algorithm/{ALG}")
    page.wait_for_selector("svg[aria-label='Precision and recall across versions'] polyline")
    page.screenshot(path=str(artifacts / "algorithm-before.png"), full_page=True)
    assert check_accessibility(page, "algorithm") == []
    page.click("button:has-text('Promote v2')")
    page.wait_for_selector("tr[data-version='2'] td:has-text('production')")
    assert live.catalog.production_version(ALG).number == 2
    updates = live.wait_for("model-updates", lambda v: v.get("algorithm_id") == ALG and v.get("action") == "promoted")
    assert updates and updates[0].value["version"] == 2 and updates[0].value["previous_version"] == 1
    [entry] = [e for e in live.ops.list_audit(action="algorithm.promote")]
    assert entry.target == f"{ALG}@v2" and entry.actor.startswith("admin-browser")
    page.click("button:has-text('Lineage v2')")
    page.wait_for_function("document.querySelector('#lineage').textContent.includes('\"number\"') || document.querySelector('#lineage').textContent.includes('version')")
    page.screenshot(path=str(artifacts / "algorithm-promoted.png"), full_page=True)


def test_add_a_camera_and_open_its_page(live, page, artifacts):
    live.publish_alert("road-cam-1")  # gives the camera a recent frame (its newest evidence)
    sign_in(page, live, "admin")
    page.goto(live.base + "/console/#/cameras")
    page.fill("#c-id", "harbor-cam-7")
    page.fill("#c-region", "harbor")
    page.fill("#c-url", "http://169.254.169.254/latest")  # refused: a metadata address
    page.click("#add-camera button[type=submit]")
    page.wait_for_selector("#add-camera .error:has-text('metadata')")
    page.fill("#c-url", "rtsp://viewer:pw@10.0.0.7/live")
    page.click("#add-camera button[type=submit]")
    page.wait_for_selector("a:has-text('harbor-cam-7')")
    cam = live.ops.get_camera("harbor-cam-7")
    assert cam.has_credentials and "pw" not in cam.stream_url  # stored apart from the URL
    newest = live.ops.list_audit(action="camera.create")[0]
    assert newest.target == "harbor-cam-7" and newest.actor.startswith("admin-browser")
    assert check_accessibility(page, "cameras") == []

    page.goto(live.base + "/console/#/camera/road-cam-1")
    page.wait_for_selector("table[aria-label='Scenes'] td:has-text('road')")
    page.wait_for_selector("table[aria-label='Assigned algorithms'] a")
    page.wait_for_selector("svg[aria-label^='Graph neighbourhood']")
    page.wait_for_selector("img[alt='Recent frame of road-cam-1']")
    assert ALG in page.inner_text("table[aria-label='Assigned algorithms']")
    page.screenshot(path=str(artifacts / "camera.png"), full_page=True)
    assert check_accessibility(page, "camera") == []


def test_labeling_flow_is_keyboard_driven(live, page, artifacts):
    paths = set(live.server.config.app.openapi()["paths"])
    if "/labeling/tasks" not in paths:
        pytest.skip("the labeling routes (warehouse/api/routes/labeling.py, issue 10) are not in this checkout")
    queue = live.flywheel.queue
    queue.open_tasks(ALG, "fallen_tree", ["road-cam-1:1", "road-cam-1:2", "road-cam-1:3"], job_id="browser-job")
    sign_in(page, live, "operator")
    page.goto(live.base + "/console/#/labeling")
    page.wait_for_selector("#label-question")
    page.wait_for_function("document.querySelector('#label-area img').naturalWidth > 0")  # the frame's JPEG from the pool
    page.wait_for_selector("#label-progress:has-text('0 of 3')")
    page.screenshot(path=str(artifacts / "labeling.png"), full_page=True)
    assert check_accessibility(page, "labeling") == []
    page.keyboard.press("y")
    page.wait_for_selector("#label-progress:has-text('1 of 3')")
    page.keyboard.press("n")
    page.wait_for_selector("#label-progress:has-text('2 of 3')")
    page.keyboard.press("s")
    page.wait_for_selector("#label-area:has-text('Nothing to label')")
    assert queue.progress(job_id="browser-job") == {"done": 2, "total": 3}
    assert queue.results("browser-job") == {"road-cam-1:1": True, "road-cam-1:2": False}


def test_dataset_and_task_pages(live, page, artifacts):
    first = live.catalog.record_dataset_version(ALG, sample_ids=["road-cam-1:1", "road-cam-1:2"], stats={"labels": {"1": 1, "0": 1}})
    second = live.catalog.record_dataset_version(ALG, sample_ids=["road-cam-1:1", "road-cam-1:2", "road-cam-1:3"], parent_id=first)
    task = live.flywheel.store.start_task("mining", ALG, total=40)
    live.flywheel.store.update_task(task, done=10)
    sign_in(page, live, "viewer")
    page.goto(live.base + "/console/#/datasets")
    page.wait_for_selector(f"tr[data-dataset='{second}'] td:has-text('{first}')")  # the parent shown
    assert check_accessibility(page, "datasets") == []
    page.screenshot(path=str(artifacts / "datasets.png"), full_page=True)
    page.goto(live.base + "/console/#/tasks")
    row = page.wait_for_selector(f"tr[data-task='{task}']")
    assert "mining" in row.inner_text() and "10/40" in row.inner_text()
    assert page.get_attribute(f"tr[data-task='{task}'] [role=progressbar]", "aria-valuenow") == "25"
    assert check_accessibility(page, "tasks") == []
    page.screenshot(path=str(artifacts / "tasks.png"), full_page=True)
