"""Issue 27 (begun): the web console in a real browser (Debian's chromium, headless,
driven by Playwright's Python package; no browser download) against a real
`strata serve`: the page and its headers, sign-in and its errors, buckets listed with
their counts, created with versioning, deleted when empty and refused when not, another
user's view, sign-out, and no secret left in the page or the browser's storage.

Screenshots at desktop and phone widths go to test-artifacts/console/ (not committed).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright

from tests.conftest import ROOT_AK, ROOT_SK, Server, free_port, running, server_env
from tests.oidc_issuer import CLIENT_ID, Issuer
from tests.s3.conftest import make_client

SHOTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "console"
BOB_AK, BOB_SK = "BOBCONSOLEKEY000001", "bob-console-secret-0000000"
HANK_AK, HANK_SK = "HANKCONSOLEKEY00001", "hank-console-secret-000000"
RITA_AK, RITA_SK = "RITACONSOLEKEY00001", "rita-console-secret-000000"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """One `strata serve` for the module's tests (each its own buckets and users); the
    single sign-on test starts its own."""
    srv = Server(tmp_path_factory.mktemp("console") / "data", free_port(), free_port(),
                 server_env())
    with running(srv):
        yield srv


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    chromium = shutil.which("chromium")
    if chromium is None:
        pytest.fail("chromium is not installed; `make client-tools` installs it")
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=chromium,
                                              args=["--no-sandbox", "--disable-gpu"])
        try:
            yield launched
        finally:
            launched.close()


@pytest.fixture
def page(browser: Browser, server: Server) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    opened = context.new_page()
    problems: list[str] = []
    # Chromium logs every answer of 400 or more as an error; the ones a test provokes
    # on purpose (a wrong secret, a name taken, a bucket not empty) are not problems
    expected = re.compile(r"Failed to load resource: .* status of (401|409) ")

    def logged(message: Any) -> None:
        if message.type == "error" and not expected.match(message.text + " "):
            problems.append(message.text)
    opened.on("console", logged)
    opened.on("pageerror", lambda error: problems.append(str(error)))
    opened.problems = problems  # type: ignore[attr-defined]
    try:
        yield opened
    finally:
        context.close()


def _sign_in(page: Page, server: Server, access_key: str, secret_key: str) -> None:
    page.goto(f"{server.api}/console/")
    page.get_by_label("Access key", exact=True).fill(access_key)
    page.get_by_label("Secret key", exact=True).fill(secret_key)
    page.get_by_role("button", name="Sign in").click()


def _shots(page: Page, name: str) -> None:
    """The page as it is, at a desktop's and a phone's width, for a reviewer to look at;
    at the phone's width nothing may stick out sideways (no horizontal scrolling)."""
    SHOTS.mkdir(parents=True, exist_ok=True)
    before = page.viewport_size or {"width": 1280, "height": 800}
    page.set_viewport_size({"width": 1280, "height": 800})
    page.screenshot(path=str(SHOTS / f"{name}-desktop.png"), full_page=True)
    page.set_viewport_size({"width": 390, "height": 844})
    page.screenshot(path=str(SHOTS / f"{name}-phone.png"), full_page=True)
    wide = page.evaluate("() => document.documentElement.scrollWidth")
    assert wide <= 390, f"{name} is {wide} px wide at a phone's 390"
    page.set_viewport_size(before)


def _rows(page: Page) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for row in page.locator("#buckets tbody tr").all():
        cells = [c.inner_text() for c in row.locator("td").all()]
        found[cells[0]] = cells[1:4]
    return found


def test_the_console_is_served_with_a_strict_policy(server: Server) -> None:
    r = httpx.get(f"{server.api}/console", follow_redirects=True)
    assert r.status_code == 200 and r.url.path == "/console/"
    assert "<title>strata console</title>" in r.text
    policy = r.headers["content-security-policy"]
    assert "default-src 'none'" in policy and "script-src 'self'" in policy
    assert "unsafe-inline" not in policy and "frame-ancestors 'none'" in policy
    assert r.headers["x-content-type-options"] == "nosniff"
    script = httpx.get(f"{server.api}/console/app.js")
    assert script.headers["content-type"].startswith("text/javascript")
    for probe in ("../app.py", "..%2F__init__.py", "__init__.py", "missing.js"):
        assert httpx.get(f"{server.api}/console/{probe}").status_code == 404, probe


def test_sign_in_buckets_and_sign_out(page: Page, server: Server) -> None:
    page.goto(f"{server.api}/console/")
    _shots(page, "sign-in")

    _sign_in(page, server, ROOT_AK, "not-the-secret-key-000000")
    expect(page.get_by_role("alert")).to_have_text(
        "The access key or secret key is wrong, or your sign-in has expired.")

    s3 = make_client(server)
    s3.create_bucket(Bucket="filled")
    s3.put_object(Bucket="filled", Key="a.txt", Body=b"x" * 3000)
    _sign_in(page, server, ROOT_AK, ROOT_SK)
    expect(page.get_by_role("heading", name="Buckets")).to_be_visible()
    expect(page.locator("tr[data-bucket='filled']")).to_be_visible()
    expect(page.get_by_role("alert")).to_be_hidden()
    assert _rows(page)["filled"] == ["1", "2.9 KiB", "Unversioned"]

    page.get_by_label("New bucket").fill("made-in-console")
    page.get_by_role("checkbox", name="Versioning").check()
    page.get_by_role("button", name="Create").click()
    expect(page.locator("tr[data-bucket='made-in-console']")).to_be_visible()
    assert _rows(page)["made-in-console"] == ["0", "0 B", "Enabled"]
    assert s3.get_bucket_versioning(Bucket="made-in-console")["Status"] == "Enabled"
    _shots(page, "buckets")

    page.get_by_label("New bucket").fill("made-in-console")
    page.get_by_role("button", name="Create").click()
    expect(page.get_by_role("alert")).to_have_text("You already have a bucket by that name.")

    page.on("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="Delete bucket filled").click()
    expect(page.get_by_role("alert")).to_have_text(
        "The bucket is not empty: delete its objects first.")
    page.get_by_role("button", name="Delete bucket made-in-console").click()
    expect(page.locator("tr[data-bucket='made-in-console']")).to_have_count(0)
    assert "made-in-console" not in [b["Name"] for b in s3.list_buckets()["Buckets"]]

    # nothing of the sign-in is kept where another script or a later visitor finds it
    assert ROOT_SK not in page.content()
    kept: Any = page.evaluate(
        "() => [localStorage.length, sessionStorage.length, document.cookie]")
    assert kept == [0, 0, ""]
    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    expect(page.locator("#buckets tbody tr")).to_have_count(0)
    assert page.problems == []  # type: ignore[attr-defined]


def test_a_user_sees_only_their_own_buckets(page: Page, server: Server) -> None:
    admin = server.token()
    r = httpx.post(f"{server.api}/admin/users", headers=admin,
                   json={"name": "bob", "access_key": BOB_AK, "secret_key": BOB_SK})
    assert r.status_code == 201, r.text
    make_client(server).create_bucket(Bucket="roots-only")
    _sign_in(page, server, BOB_AK, BOB_SK)
    page.get_by_label("New bucket").fill("bobs-bucket")
    page.get_by_role("button", name="Create").click()
    expect(page.locator("tr[data-bucket='bobs-bucket']")).to_be_visible()
    assert set(_rows(page)) == {"bobs-bucket"}
    assert page.problems == []  # type: ignore[attr-defined]


def test_browse_a_bucket_by_folders_download_and_delete(page: Page, server: Server) -> None:
    s3 = make_client(server)
    s3.create_bucket(Bucket="browse")
    bodies = {"photos/2026/a.jpg": b"a" * 10, "photos/2026/b.jpg": b"b" * 20,
              "photos/c.txt": b"see", "readme.txt": b"read me, " * 100}
    bodies.update({f"many/k{n:02d}": b"m" for n in range(60)})
    for key, body in bodies.items():
        s3.put_object(Bucket="browse", Key=key, Body=body)
    _sign_in(page, server, ROOT_AK, ROOT_SK)
    page.get_by_role("button", name="Open bucket browse").click()
    expect(page.locator("tr[data-key='readme.txt']")).to_be_visible()
    folders = page.locator("#objects tbody tr[data-folder]")
    expect(folders).to_have_count(2)
    assert [f.get_attribute("data-folder") for f in folders.all()] == ["many/", "photos/"]

    page.get_by_role("button", name="Open folder photos/").click()
    expect(page.locator("tr[data-key='photos/c.txt']")).to_be_visible()
    expect(page.locator("tr[data-folder='photos/2026/']")).to_be_visible()
    page.get_by_role("button", name="Open folder photos/2026/").click()
    expect(page.locator("#objects tbody tr[data-key]")).to_have_count(2)
    page.get_by_role("navigation", name="Folders").get_by_role("button", name="(top)").click()
    expect(page.locator("tr[data-key='readme.txt']")).to_be_visible()

    page.get_by_label("Keys starting with").fill("many/")
    page.get_by_role("button", name="Search").click()
    expect(page.locator("#objects tbody tr[data-key]")).to_have_count(50)
    page.get_by_role("button", name="Show more").click()
    expect(page.locator("#objects tbody tr[data-key]")).to_have_count(60)
    expect(page.get_by_role("button", name="Show more")).to_be_hidden()

    page.get_by_label("Keys starting with").fill("")
    page.get_by_role("button", name="Search").click()
    with page.expect_download() as downloading:
        page.get_by_role("button", name="Download readme.txt").click()
    saved = downloading.value
    assert saved.suggested_filename == "readme.txt"
    assert Path(saved.path()).read_bytes() == bodies["readme.txt"]

    page.on("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="Open folder photos/").click()
    page.get_by_role("button", name="Delete photos/c.txt").click()
    expect(page.locator("tr[data-key='photos/c.txt']")).to_have_count(0)
    assert "photos/c.txt" not in [o["Key"] for o in s3.list_objects_v2(
        Bucket="browse", Prefix="photos/")["Contents"]]
    _shots(page, "objects")
    assert page.problems == []  # type: ignore[attr-defined]


def test_history_of_two_users_and_a_folder_restored_to_an_instant(
        browser: Browser, server: Server) -> None:
    """A key's timeline with who changed it; the bucket as it was before a delete, and
    that folder restored after the dry run says what it would do."""
    admin = server.token()
    assert httpx.post(f"{server.api}/admin/users", headers=admin, json={
        "name": "hank", "access_key": HANK_AK, "secret_key": HANK_SK}).status_code == 201
    root = make_client(server)
    root.create_bucket(Bucket="timeline")
    root.put_bucket_versioning(Bucket="timeline",
                               VersioningConfiguration={"Status": "Enabled"})
    assert httpx.put(f"{server.api}/buckets/timeline/acl", headers=admin, json={"grants": [
        {"grantee": "user:root", "permission": "FULL_CONTROL"},
        {"grantee": "user:hank", "permission": "WRITE"}]}).status_code == 200
    first = root.put_object(Bucket="timeline", Key="docs/plan.txt", Body=b"root's plan")
    make_client(server, HANK_AK, HANK_SK).put_object(Bucket="timeline", Key="docs/plan.txt",
                                                   Body=b"hank's plan")
    root.put_object(Bucket="timeline", Key="docs/notes.txt", Body=b"notes")
    before_delete = datetime.now(UTC)
    time.sleep(0.05)
    root.delete_object(Bucket="timeline", Key="docs/notes.txt")

    context = browser.new_context(viewport={"width": 1280, "height": 800}, timezone_id="UTC",
                                  accept_downloads=True)
    page = context.new_page()
    try:
        _sign_in(page, server, ROOT_AK, ROOT_SK)
        page.get_by_role("button", name="Open bucket timeline").click()
        page.get_by_role("button", name="Open folder docs/").click()
        expect(page.locator("tr[data-key='docs/notes.txt']")).to_have_count(0)
        page.get_by_role("button", name="History docs/plan.txt").click()
        rows = page.locator("#history tbody tr")
        expect(rows).to_have_count(2)
        who = [r.locator("td").nth(2).inner_text() for r in rows.all()]
        assert who == ["root", "hank"]
        assert rows.first.locator("td").nth(1).inner_text() == "written"
        with page.expect_download() as downloading:
            page.get_by_role("button", name=f"Download version {first['VersionId']}").click()
        assert Path(downloading.value.path()).read_bytes() == b"root's plan"
        _shots(page, "history")

        page.get_by_role("button", name="Back to the folder").click()
        # the time slider, moved to an instant before the delete (the page is in UTC)
        page.get_by_label("Move through the bucket's life").fill(
            str(int(before_delete.timestamp() * 1000)))
        expect(page.locator("tr[data-key='docs/notes.txt']")).to_be_visible()
        shown = page.get_by_label("As it was at", exact=True).input_value()
        assert datetime.fromisoformat(shown) == before_delete.replace(
            tzinfo=None, microsecond=before_delete.microsecond // 1000 * 1000)
        expect(page.get_by_role("button", name="Delete docs/notes.txt")).to_have_count(0)
        _shots(page, "time-travel")
        page.get_by_role("button", name="Restore this folder to then").click()
        expect(page.locator("#restore-text")).to_have_text(  # plan.txt is as it was then
            "Restoring would bring back 1: docs/notes.txt and delete 0.")
        assert "notes.txt" not in [o["Key"] for o in root.list_objects_v2(
            Bucket="timeline").get("Contents", [])]  # a dry run changes nothing
        page.get_by_role("button", name="Restore", exact=True).click()
        expect(page.locator("#restore-text")).to_have_text("Restored 1 and deleted 0.")
        expect(page.locator("tr[data-key='docs/notes.txt']")).to_be_visible()
        assert root.get_object(Bucket="timeline", Key="docs/notes.txt")["Body"].read() == \
            b"notes"
        assert root.get_object(Bucket="timeline", Key="docs/plan.txt")["Body"].read() == \
            b"hank's plan"
    finally:
        context.close()


def test_live_events_appear_pause_and_resume_from_where_they_were(
        page: Page, server: Server) -> None:
    s3 = make_client(server)
    s3.create_bucket(Bucket="watched")
    _sign_in(page, server, ROOT_AK, ROOT_SK)
    page.get_by_role("button", name="Open bucket watched").click()
    page.get_by_role("button", name="Live events").click()
    expect(page.locator("#events-state")).to_contain_text("Watching")
    events = page.locator("#events li")

    s3.put_object(Bucket="watched", Key="live.txt", Body=b"hello")
    expect(events.first).to_contain_text("s3:ObjectCreated:Put  live.txt  by root")
    _shots(page, "events")

    page.get_by_role("button", name="Pause").click()
    expect(page.locator("#events-state")).to_contain_text("Paused")
    s3.put_object(Bucket="watched", Key="while-paused.txt", Body=b"x")
    page.get_by_role("button", name="Resume").click()  # from the last position shown
    expect(events.first).to_contain_text("while-paused.txt")
    # each write once (beside strata's own event of a key's first write)
    expect(page.locator("#events li", has_text="s3:ObjectCreated:Put")).to_have_count(2)

    page.get_by_label("Only events named").fill("s3:ObjectRemoved:*")
    page.get_by_role("button", name="Filter").click()
    expect(page.locator("#events-state")).to_contain_text("Watching")
    s3.put_object(Bucket="watched", Key="ignored.txt", Body=b"x")
    s3.delete_object(Bucket="watched", Key="live.txt")
    expect(events.first).to_contain_text("s3:ObjectRemoved:Delete  live.txt")
    expect(events).to_have_count(1)
    assert page.problems == []  # type: ignore[attr-defined]


def test_signing_in_and_opening_a_bucket_by_keyboard_alone(page: Page, server: Server) -> None:
    make_client(server).create_bucket(Bucket="keyed")
    page.goto(f"{server.api}/console/")
    expect(page.get_by_label("Access key", exact=True)).to_be_focused()  # where typing starts
    page.keyboard.type(ROOT_AK)
    page.keyboard.press("Tab")
    expect(page.get_by_label("Secret key", exact=True)).to_be_focused()
    page.keyboard.type(ROOT_SK)
    page.keyboard.press("Enter")
    expect(page.get_by_label("New bucket")).to_be_focused()
    expect(page.locator("tr[data-bucket='keyed']")).to_be_visible()
    for _ in range(80):  # Tab along to the bucket's own button, then open it with Enter
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.getAttribute('aria-label')") == \
                "Open bucket keyed":
            break
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", name="keyed")).to_be_visible()
    assert page.problems == []  # type: ignore[attr-defined]


def test_upload_by_file_input_and_by_drop_with_progress_then_share(
        page: Page, server: Server, tmp_path: Path) -> None:
    """A 20 MiB file picked in the file input goes straight to the S3 door in parts,
    its progress bar moving; a file dropped on the page lands in the open folder; a
    shared link downloads the object without signing in, until it expires."""
    s3 = make_client(server)
    s3.create_bucket(Bucket="uploads")
    s3.put_object(Bucket="uploads", Key="incoming/.keep", Body=b"")
    big = tmp_path / "big.bin"
    big.write_bytes(os.urandom(20 * 1024 * 1024))
    _sign_in(page, server, ROOT_AK, ROOT_SK)
    page.get_by_role("button", name="Open bucket uploads").click()
    page.get_by_role("button", name="Open folder incoming/").click()
    expect(page.locator("tr[data-key='incoming/.keep']")).to_be_visible()
    page.evaluate("""() => {  // every value the progress bar shows on the way
        window.seenProgress = [];
        new MutationObserver(() => document.querySelectorAll('#uploads progress')
            .forEach((bar) => window.seenProgress.push(bar.value)))
          .observe(document.querySelector('#uploads'),
                   { subtree: true, childList: true, characterData: true });
    }""")
    page.get_by_label("Files…").set_input_files(str(big))
    done = page.locator("#uploads li[data-key='incoming/big.bin'][data-done]")
    expect(done).to_contain_text("uploaded", timeout=60_000)
    seen = page.evaluate("window.seenProgress")
    assert any(0 < value < big.stat().st_size for value in seen), seen  # it moved
    expect(page.locator("tr[data-key='incoming/big.bin']")).to_be_visible()
    stored = s3.get_object(Bucket="uploads", Key="incoming/big.bin")
    assert stored["Body"].read() == big.read_bytes()
    assert stored["ETag"].endswith('-3"')  # three 8 MiB parts: a multipart upload
    _shots(page, "upload")

    page.evaluate("""() => {
        const data = new DataTransfer();
        data.items.add(new File(['dropped bytes'], 'dropped.txt', { type: 'text/plain' }));
        const zone = document.querySelector('#upload-zone');
        zone.dispatchEvent(new DragEvent('dragover', { dataTransfer: data, bubbles: true }));
        zone.dispatchEvent(new DragEvent('drop', { dataTransfer: data, bubbles: true }));
    }""")
    expect(page.locator("tr[data-key='incoming/dropped.txt']")).to_be_visible()
    dropped = s3.get_object(Bucket="uploads", Key="incoming/dropped.txt")
    assert dropped["Body"].read() == b"dropped bytes"
    assert dropped["ContentType"] == "text/plain"

    with page.expect_download() as downloading:
        page.get_by_role("button", name="Download incoming/big.bin").click()
    assert downloading.value.suggested_filename == "big.bin"
    assert Path(downloading.value.path()).read_bytes() == big.read_bytes()

    page.get_by_role("button", name="Share incoming/dropped.txt").click()
    page.get_by_label("The link works for").select_option("3600")
    page.get_by_role("button", name="Create link").click()
    link = page.get_by_label("Anyone with this link")
    expect(link).to_have_value(re.compile(r"X-Amz-Expires=3600"))
    _shots(page, "share")
    assert httpx.get(link.input_value()).content == b"dropped bytes"  # no sign-in
    page.get_by_role("button", name="Close").click()
    assert page.problems == []  # type: ignore[attr-defined]


def test_a_refused_upload_stores_nothing_and_says_why(page: Page, server: Server,
                                                     tmp_path: Path) -> None:
    admin = server.token()
    assert httpx.post(f"{server.api}/admin/users", headers=admin, json={
        "name": "rita", "access_key": RITA_AK, "secret_key": RITA_SK}).status_code == 201
    rita = make_client(server, RITA_AK, RITA_SK)
    rita.create_bucket(Bucket="ritas")
    rita.put_object(Bucket="ritas", Key="sealed/.keep", Body=b"")
    rita.put_bucket_policy(Bucket="ritas", Policy=json.dumps({"Statement": [{
        "Effect": "Deny", "Principal": "*", "Action": "s3:PutObject",
        "Resource": "arn:aws:s3:::ritas/sealed/*"}]}))
    refused = re.compile(r"Failed to load resource: .* status of 403 ")
    picked = tmp_path / "note.txt"
    picked.write_bytes(b"not allowed in")
    _sign_in(page, server, RITA_AK, RITA_SK)
    page.get_by_role("button", name="Open bucket ritas").click()
    page.get_by_role("button", name="Open folder sealed/").click()
    page.get_by_label("Files…").set_input_files(str(picked))
    failed = page.locator("#uploads li[data-key='sealed/note.txt'][data-failed]")
    expect(failed).to_contain_text("failed: You are not allowed to do that.")
    expect(page.get_by_role("alert")).to_have_text("1 of 1 uploads failed: see the list.")
    assert [o["Key"] for o in rita.list_objects_v2(Bucket="ritas")["Contents"]] == [
        "sealed/.keep"]
    assert [p for p in page.problems if not refused.match(p + " ")] == []  # type: ignore


def test_administration_users_keys_status_and_every_buckets_events(
        page: Page, server: Server) -> None:
    """An administrator sees how far behind each part is, the store's durability, every
    user with their keys, creates a user whose new key then signs in, deactivates it,
    and watches every bucket's events; that user sees no administration at all."""
    s3 = make_client(server)
    _sign_in(page, server, ROOT_AK, ROOT_SK)
    page.get_by_role("button", name="Administration").click()
    expect(page.locator("#status tr[data-part='Views']")).to_contain_text("events")
    expect(page.locator("#status tr[data-part='Worker: gc']")).to_be_visible()
    expect(page.locator("#durability-summary")).to_contain_text("own disk")
    expect(page.locator("#users tr[data-user='root']")).to_contain_text("administrator")

    page.get_by_label("New user").fill("carol")
    page.get_by_role("button", name="Create user").click()
    expect(page.locator("#new-key")).to_be_visible()
    carol_ak = page.locator("#new-key-id").inner_text()
    carol_sk = page.locator("#new-key-secret").inner_text()
    expect(page.locator(f"#users li[data-key='{carol_ak}']")).to_contain_text("active")
    assert make_client(server, carol_ak, carol_sk).list_buckets()["Buckets"] == []
    _shots(page, "admin")
    page.get_by_role("button", name="Done").click()
    expect(page.locator("#new-key-secret")).to_have_text("")  # shown once, then gone

    page.get_by_role("button", name="Every bucket's events").click()
    expect(page.locator("#events-state")).to_contain_text("Watching")
    s3.create_bucket(Bucket="one")
    s3.create_bucket(Bucket="two")
    s3.put_object(Bucket="one", Key="a.txt", Body=b"a")
    s3.put_object(Bucket="two", Key="b.txt", Body=b"b")
    expect(page.locator("#events li", has_text="s3:ObjectCreated:Put")).to_have_count(2)
    expect(page.locator("#events li", has_text="Put  two/b.txt  by root")).to_be_visible()
    page.get_by_role("button", name="Back to administration").click()

    page.on("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name=f"Deactivate {carol_ak}").click()
    expect(page.locator(f"#users li[data-key='{carol_ak}']")).to_contain_text("inactive")
    assert httpx.post(f"{server.api}/auth/token", json={
        "access_key": carol_ak, "secret_key": carol_sk}).status_code == 401
    page.get_by_role("button", name=f"Activate {carol_ak}").click()
    expect(page.locator(f"#users li[data-key='{carol_ak}']")).to_contain_text(" active")
    page.get_by_role("button", name="Sign out").click()

    _sign_in(page, server, carol_ak, carol_sk)
    expect(page.get_by_role("heading", name="Buckets")).to_be_visible()
    expect(page.get_by_role("button", name="Administration")).to_be_hidden()
    carol = server.token(carol_ak, carol_sk)
    for path in ("/admin/users", "/admin/status", "/admin/durability"):
        assert httpx.get(f"{server.api}{path}", headers=carol).status_code == 403, path
    assert httpx.get(f"{server.api}/events", headers=carol).status_code == 403
    assert page.problems == []  # type: ignore[attr-defined]


def test_details_tags_acl_versions_and_deleting_many(page: Page, server: Server) -> None:
    s3 = make_client(server)
    s3.create_bucket(Bucket="detailed")
    s3.put_bucket_versioning(Bucket="detailed", VersioningConfiguration={"Status": "Enabled"})
    first = s3.put_object(Bucket="detailed", Key="report.csv", Body=b"a,b\n1,2\n",
                          ContentType="text/csv", Metadata={"owner-team": "data"},
                          Tagging="stage=draft")
    s3.put_object(Bucket="detailed", Key="report.csv", Body=b"a,b\n3,4\n",
                  ContentType="text/csv", Tagging="stage=final")
    for n in range(3):
        s3.put_object(Bucket="detailed", Key=f"tmp/{n}.log", Body=b"log")
    _sign_in(page, server, ROOT_AK, ROOT_SK)
    page.get_by_role("button", name="Open bucket detailed").click()
    page.get_by_role("button", name="Details report.csv").click()
    expect(page.get_by_role("heading", name="report.csv")).to_be_visible()
    expect(page.locator("#details-facts")).to_contain_text("text/csv")
    expect(page.get_by_label("Tag value")).to_have_value("final")
    expect(page.locator("#versions tbody tr")).to_have_count(2)

    page.get_by_role("button", name="Add a tag").click()
    page.get_by_label("Tag key").nth(1).fill("reviewed")
    page.get_by_label("Tag value").nth(1).fill("yes")
    page.get_by_role("button", name="Save tags").click()
    expect(page.locator("#details-status")).to_have_text("Tags saved.")
    tags = s3.get_object_tagging(Bucket="detailed", Key="report.csv")["TagSet"]
    assert {t["Key"]: t["Value"] for t in tags} == {"stage": "final", "reviewed": "yes"}

    page.get_by_label("Set to").select_option("public-read")
    page.get_by_role("button", name="Apply").click()
    expect(page.locator("#grants")).to_contain_text("group:all-users: READ")
    assert httpx.get(f"{server.s3}/detailed/report.csv").content == b"a,b\n3,4\n"
    _shots(page, "details")

    page.get_by_role("button", name=f"Restore version {first['VersionId']}").click()
    expect(page.locator("#details-status")).to_have_text(
        f"Version {first['VersionId']} is the current one again.")
    expect(page.locator("#versions tbody tr")).to_have_count(3)
    current = s3.get_object(Bucket="detailed", Key="report.csv")
    assert current["Body"].read() == b"a,b\n1,2\n" and current["Metadata"] == {
        "owner-team": "data"}

    page.get_by_role("button", name="Back to the folder").click()
    page.get_by_role("button", name="Open folder tmp/").click()
    page.get_by_label("Select tmp/0.log").check()
    page.get_by_label("Select tmp/2.log").check()
    page.on("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="Delete 2 selected").click()
    expect(page.locator("#objects tbody tr[data-key]")).to_have_count(1)
    assert [o["Key"] for o in s3.list_objects_v2(Bucket="detailed", Prefix="tmp/")[
        "Contents"]] == ["tmp/1.log"]
    assert page.problems == []  # type: ignore[attr-defined]


def test_bucket_settings_versioning_access_and_s3_documents(page: Page, server: Server) -> None:
    """Versioning and access set by their controls; a policy and lifecycle rules saved
    from the example the console offers; a broken document refused with S3's reason and
    the saved one left as it was; a setting removed."""
    s3 = make_client(server)
    s3.create_bucket(Bucket="tuned")
    expected = re.compile(r"Failed to load resource: .* status of (400|404) ")
    _sign_in(page, server, ROOT_AK, ROOT_SK)
    page.get_by_role("button", name="Settings of bucket tuned").click()
    expect(page.get_by_role("heading", name="Settings of tuned")).to_be_visible()
    expect(page.locator("#settings-status")).to_contain_text("Not set")

    page.locator("#settings-view").get_by_label("Versioning").select_option("Enabled")
    page.get_by_role("button", name="Apply versioning").click()
    expect(page.locator("#settings-status")).to_have_text("Versioning is enabled.")
    assert s3.get_bucket_versioning(Bucket="tuned")["Status"] == "Enabled"

    page.get_by_label("Who may list and write").select_option("authenticated-read")
    page.get_by_role("button", name="Apply access").click()
    expect(page.locator("#bucket-grants")).to_contain_text("group:authenticated-users: READ")

    expect(page.get_by_label("The setting's document")).to_have_value(re.compile("PublicRead"))
    page.get_by_role("button", name="Save setting").click()
    expect(page.locator("#settings-status")).to_have_text("Saved.")
    policy = json.loads(s3.get_bucket_policy(Bucket="tuned")["Policy"])
    assert policy["Statement"][0]["Resource"] == "arn:aws:s3:::tuned/public/*"

    page.get_by_label("Setting", exact=True).select_option("lifecycle")
    expect(page.get_by_label("The setting's document")).to_have_value(re.compile("expire-tmp"))
    page.get_by_role("button", name="Save setting").click()
    expect(page.locator("#settings-status")).to_have_text("Saved.")
    rules = s3.get_bucket_lifecycle_configuration(Bucket="tuned")["Rules"]
    assert rules[0]["ID"] == "expire-tmp" and rules[0]["Expiration"]["Days"] == 7
    page.get_by_label("The setting's document").fill("<LifecycleConfiguration><Rule>")
    page.get_by_role("button", name="Save setting").click()
    expect(page.get_by_role("alert")).to_contain_text("The document is not XML S3 accepts")
    assert s3.get_bucket_lifecycle_configuration(Bucket="tuned")["Rules"][0]["ID"] == \
        "expire-tmp"
    _shots(page, "settings")

    page.on("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="Remove setting").click()
    expect(page.locator("#settings-status")).to_have_text("Removed.")
    with pytest.raises(s3.exceptions.ClientError, match="NoSuchLifecycleConfiguration"):
        s3.get_bucket_lifecycle_configuration(Bucket="tuned")
    assert [p for p in page.problems if not expected.match(p + " ")] == []  # type: ignore


def test_single_sign_on_through_the_issuers_page(browser: Browser, tmp_path: Path) -> None:
    """With an OpenID Connect issuer configured, the console sends the browser to its
    sign-in page and takes the ID token it sends back (its state and nonce checked):
    the user's own buckets, an administrator's pages by the issuer's group, uploads
    through presigned requests, and nothing kept afterwards. An answer to a request
    this page did not make is refused."""
    with Issuer() as issuer:
        server = Server(tmp_path / "data", free_port(), free_port(), server_env(
            STRATA_OIDC_ISSUER=issuer.url, STRATA_OIDC_CLIENT_ID=CLIENT_ID,
            STRATA_OIDC_ADMIN_GROUP="storage-admins"))
        server.start()
        context = browser.new_context(viewport={"width": 1280, "height": 800})
        page = context.new_page()
        try:
            page.goto(f"{server.api}/console/")
            issuer.signed_in = ("dana", ("storage-admins",))
            page.get_by_role("button", name="Sign in with single sign-on").click()
            expect(page.locator("#who")).to_have_text("dana (single sign-on)")
            asked = issuer.asked[-1]
            assert asked["client_id"] == CLIENT_ID and asked["response_type"] == "id_token"
            assert asked["redirect_uri"] == f"{server.api}/console/"
            assert page.url == f"{server.api}/console/"  # the token left the address bar
            expect(page.get_by_role("button", name="Administration")).to_be_visible()
            page.get_by_label("New bucket").fill("danas")
            page.get_by_role("button", name="Create").click()
            page.get_by_role("button", name="Open bucket danas").click()
            picked = tmp_path / "sso.txt"
            picked.write_bytes(b"signed on")
            page.get_by_label("Files…").set_input_files(str(picked))
            expect(page.locator("tr[data-key='sso.txt']")).to_be_visible()
            stored = httpx.get(f"{server.api}/buckets/danas/objects/sso.txt",
                               headers={"authorization": f"Bearer {issuer.token('dana')}"})
            assert stored.content == b"signed on"
            kept: Any = page.evaluate(
                "() => [localStorage.length, sessionStorage.length, document.cookie]")
            assert kept == [0, 0, ""]
            page.get_by_role("button", name="Sign out").click()

            # a token delivered to this page without its own request: refused
            forged = issuer.token("dana", nonce="not-this-pages")
            page.goto(f"{server.api}/console/#id_token={forged}&state=whatever")
            expect(page.get_by_role("alert")).to_have_text(
                "That sign-in was not started from this page: sign in again.")
            expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
            page.goto(f"{server.api}/console/#error=access_denied&error_description=Denied")
            expect(page.get_by_role("alert")).to_have_text("Single sign-on failed: Denied.")
        finally:
            context.close()
            server.stop()
