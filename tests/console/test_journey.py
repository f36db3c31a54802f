"""The console's whole journey in a real browser, one step a test (docs/architecture.md, issue 15), against the
local cloud of the session: sign up; create a project; an s3 source and an iceberg destination through
their spec forms; test the connection; discover and select streams; create a job and sync it; the run's
counts and logs; a 20 MB upload through presigned multipart to a Finished sync; a viewer sees no write
buttons and a stranger's project URL shows "not found".

The steps share one person's browser page (module scope) and build on each other in file order.
Elements are found by role and label, as a keyboard or screen-reader user finds them.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass, field

import boto3
import pytest
import requests
from playwright.sync_api import expect

from tests.console.conftest import Visitor, open_visitor
from tests.integration.sources import SOURCE_ROLE

PASSWORD = "Console-Pass-9"
SOURCE_BUCKET = "console-raw"
CSV = b"id,amount,ts\n1,9.5,2026-11-01T10:00:00Z\n2,3.25,2026-11-01T11:00:00Z\n3,7.0,2026-11-02T09:30:00Z\n"
RUN_TIMEOUT = 60_000


@dataclass
class Journey:
    me: Visitor
    username: str = field(default_factory=lambda: f"ada{uuid.uuid4().hex[:6]}")
    project_url: str = ""
    done: set[str] = field(default_factory=set)

    def needs(self, step: str) -> None:
        if step not in self.done:
            pytest.fail(f"an earlier step ({step}) did not complete")


@pytest.fixture(scope="module")
def journey(browser, cloud):
    s3 = boto3.client("s3", endpoint_url=cloud.aws, region_name="us-east-1")
    s3.create_bucket(Bucket=SOURCE_BUCKET)
    s3.put_object(Bucket=SOURCE_BUCKET, Key="orders/day1.csv", Body=CSV)
    me = open_visitor(browser, cloud)
    yield Journey(me)
    me.context.close()


@pytest.fixture(autouse=True)
def watched(journey):
    """Every step fails on a console error or a failed request it did not expect."""
    yield
    journey.me.watch.check()


def test_1_sign_up(journey, cloud):
    page, watch = journey.me.page, journey.me.watch
    watch.allow("GET", r"/auth$", 401)  # not signed in yet
    page.goto("/")
    expect(page).to_have_url(re.compile(r"/sign-in"))
    page.get_by_role("link", name="Sign up").click()
    page.get_by_label("Email").fill(f"{journey.username}@example.com")
    page.get_by_label("Username").fill(journey.username)
    page.get_by_label("Password").fill("weakpass")
    watch.allow("POST", r"/signup$", 400)
    page.get_by_role("button", name="Create account").click()
    expect(
        page.locator(".field.invalid", has=page.get_by_label("Password")).get_by_role("alert")
    ).to_contain_text("upper-case letter")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Create account").click()
    expect(page.get_by_role("status").filter(has_text=f"Account {journey.username} created")).to_be_visible()
    page.get_by_label("Username or email").fill(journey.username)
    page.get_by_label("Password").fill("Wrong-Pass-9")
    watch.allow("POST", r"/login$", 401)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("alert")).to_contain_text("Invalid username or password")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="Projects", exact=True)).to_be_visible()
    expect(page.get_by_label("Signed in as")).to_have_text(journey.username)
    journey.me.shot("01-projects")
    journey.done.add("sign up")


def test_2_create_project(journey):
    journey.needs("sign up")
    page = journey.me.page
    page.get_by_label("Project name").fill("lakehouse")
    page.get_by_role("button", name="Create project").click()
    expect(page.get_by_role("heading", name="Jobs")).to_be_visible()
    journey.project_url = re.sub(r"/jobs$", "", page.url)
    # an API key: shown once, with a copy button
    page.get_by_role("link", name="API keys").click()
    page.get_by_label("Key name").fill("ci")
    page.get_by_role("button", name="Create key").click()
    key = page.get_by_label("New API key value").inner_text()
    assert len(key) > 20
    page.get_by_role("button", name="Copy key").click()
    expect(page.get_by_role("button", name="Copied")).to_be_visible()
    assert page.evaluate("navigator.clipboard.readText()") == key
    expect(page.get_by_role("region", name="API keys")).to_contain_text("ci")
    journey.me.shot("02-api-keys")
    journey.done.add("project")


def test_3_create_s3_source_and_iceberg_destination(journey):
    journey.needs("project")
    page, watch = journey.me.page, journey.me.watch
    page.get_by_role("navigation", name="Project").get_by_role("link", name="Sources").click()
    page.get_by_role("link", name="New source").click()
    page.get_by_label("Type").select_option("s3")
    expect(page.get_by_label("Format")).to_have_value("auto")  # an enum is a select, its default chosen
    expect(page.get_by_label("Secret Access Key")).to_have_attribute("type", "password")
    page.get_by_label("Name", exact=True).fill("exports")
    page.get_by_label("Bucket").fill("Not_A_Bucket")
    watch.allow("POST", r"/sources$", 400)
    page.get_by_role("button", name="Create source").click()
    bucket_field = page.locator(".field", has=page.get_by_label("Bucket"))
    expect(bucket_field.get_by_role("alert")).to_contain_text("String should match pattern")
    page.get_by_label("Bucket").fill(SOURCE_BUCKET)
    page.get_by_label("Role Arn").fill(SOURCE_ROLE)  # a bucket outside the service: the project's role
    page.get_by_label("Prefix").fill("orders/")
    page.get_by_role("button", name="Create source").click()
    expect(page.get_by_role("status").filter(has_text="Source saved.")).to_be_visible()
    journey.me.shot("03-source")

    page.get_by_role("navigation", name="Project").get_by_role("link", name="Destinations").click()
    page.get_by_role("link", name="New destination").click()
    page.get_by_label("Type").select_option("iceberg")
    expect(page.get_by_label("Catalog")).to_have_value("glue")
    page.get_by_label("Name", exact=True).fill("warehouse")
    page.get_by_label("Database").fill("sales")
    page.get_by_role("button", name="Create destination").click()
    expect(page.get_by_role("status").filter(has_text="Destination saved.")).to_be_visible()
    journey.done.add("connectors")


def test_4_test_connection(journey):
    journey.needs("connectors")
    page = journey.me.page
    page.get_by_role("navigation", name="Project").get_by_role("link", name="Sources").click()
    page.get_by_role("link", name="exports").click()
    page.get_by_role("button", name="Test connection").click()
    result = page.get_by_role("region", name="Connection test")
    expect(result).to_contain_text("Connection test: succeeded", timeout=30_000)
    for check in ("bucket_reachable", "prefix_listable", "file_readable", "format_recognized"):
        expect(result.get_by_role("listitem").filter(has_text=check)).to_contain_text("passed")
    journey.me.shot("04-connection-test")
    journey.done.add("connection")


def test_5_discover_and_select_streams(journey):
    journey.needs("connection")
    page = journey.me.page
    page.get_by_role("navigation", name="Project").get_by_role("link", name="Jobs").click()
    page.get_by_role("link", name="New job").click()
    page.get_by_label("Job name").fill("orders")
    page.get_by_label("Source", exact=True).select_option(label="exports (s3)")
    page.get_by_label("Destination", exact=True).select_option(label="warehouse (iceberg)")
    page.get_by_role("button", name="Discover streams").click()
    streams = page.get_by_role("region", name="Streams")
    expect(streams).to_contain_text("orders", timeout=30_000)
    expect(streams).to_contain_text("amount: float64")
    expect(page.get_by_label("Select orders")).to_be_checked()
    page.get_by_label("Sync mode of orders").select_option("full_refresh")
    page.get_by_label("Destination mode of orders").select_option("upsert")
    page.get_by_label("Primary key of orders").fill("id")
    page.get_by_label("Cursor of orders").select_option("ts")
    # the frequency helper shows the next runs
    page.get_by_label("Schedule", exact=True).select_option("every")
    page.get_by_label("Every", exact=True).fill("6")
    page.get_by_label("Unit").select_option("hours")
    expect(page.get_by_role("list", name="Next runs").get_by_role("listitem")).to_have_count(5)
    page.get_by_label("Schedule", exact=True).select_option("cron")
    page.get_by_label("Cron").fill("30 2 * * 1")
    expect(page.get_by_role("list", name="Next runs").get_by_role("listitem").first).to_contain_text(":30")
    page.get_by_label("Schedule", exact=True).select_option("manual")
    journey.me.shot("05-job-streams")
    journey.done.add("streams")


def test_6_create_job_and_sync(journey):
    journey.needs("streams")
    page = journey.me.page
    page.get_by_role("button", name="Create job").click()
    expect(page.get_by_role("heading", name="Job orders")).to_be_visible(
        timeout=30_000
    )  # streams are checked
    page.get_by_role("button", name="Sync orders now").click()
    runs = page.get_by_role("region", name="Runs")
    expect(runs.get_by_text("succeeded")).to_be_visible(timeout=RUN_TIMEOUT)
    expect(runs).to_contain_text("3")  # rows read
    journey.me.shot("06-job-runs")
    journey.done.add("run")


def test_7_run_counts_and_logs(journey):
    journey.needs("run")
    page = journey.me.page
    page.get_by_role("region", name="Runs").get_by_role("link", name=re.compile(r"^isj-")).first.click()
    counts = page.get_by_role("table", name="Run counts")
    expect(counts.get_by_role("cell").first).to_have_text("3")  # read
    table = page.get_by_role("region", name="Table orders")
    expect(table).to_contain_text("Read 3, inserted 3")
    expect(page.get_by_role("region", name="Files of orders")).to_contain_text("orders/day1.csv")
    expect(table).to_contain_text("No rejected rows or file errors.")
    expect(page.get_by_role("list", name="Log lines")).to_contain_text("run succeeded")
    journey.me.shot("07-run")
    journey.done.add("run page")


def test_8_upload_20mb_multipart(journey, tmp_path):
    journey.needs("project")
    page, watch = journey.me.page, journey.me.watch
    big = tmp_path / "events.csv"
    with open(big, "w") as out:
        out.write("id,name,amount\n")
        row = 0
        while out.tell() < 20 * 1024 * 1024:
            out.write(f"{row},customer-{row % 977},{row * 0.25:.2f}\n")
            row += 1
    page.goto(journey.project_url + "/syncs")
    page.get_by_label("Lake path").fill("/sales/events")
    page.get_by_label("Sync type").select_option("FullSync")
    page.get_by_role("button", name="Start sync").click()
    expect(page.get_by_role("heading", name=re.compile("Upload sync"))).to_be_visible()
    page.get_by_label("Choose files to upload").set_input_files(str(big))
    overall = page.get_by_role("progressbar", name="All uploads")
    expect(overall).to_have_attribute("value", "100", timeout=60_000)
    uploads = page.get_by_role("region", name="Uploads")
    expect(uploads).to_contain_text("done: uploaded", timeout=30_000)
    # a small file dropped on the drop zone goes in one request
    drop = page.evaluate_handle(
        """() => { const d = new DataTransfer();
                   d.items.add(new File(['id,name,amount\\n1,a,2.5\\n'], 'small.csv', {type: 'text/csv'}));
                   return d; }"""
    )
    page.get_by_test_id("dropzone").dispatch_event("drop", {"dataTransfer": drop})
    expect(uploads.get_by_role("listitem").filter(has_text="small.csv")).to_contain_text(
        "done", timeout=30_000
    )
    journey.me.shot("08-upload-progress")
    puts = [url for method, url in watch.requests if method == "PUT" and "partNumber=" in url]
    assert len(puts) >= 3, puts  # 20 MB in parts of 5-8 MiB, straight to S3
    page.get_by_role("button", name="End sync").click()
    expect(page.locator("dl.facts")).to_contain_text("Finished", timeout=90_000)
    files = page.get_by_role("region", name="Sync files")
    expect(files).to_contain_text("events.csv")
    expect(files).to_contain_text("small.csv")
    journey.me.shot("08-upload-sync")
    journey.done.add("upload")


def _person(cloud, prefix: str) -> str:
    username = f"{prefix}{uuid.uuid4().hex[:6]}"
    body = {"email": f"{username}@example.com", "username": username, "password": PASSWORD}
    r = requests.post(f"{cloud.gateway}/signup", json=body, timeout=30)
    assert r.status_code == 201, r.text
    return username


def _signed_in(browser, cloud, username: str) -> Visitor:
    visitor = open_visitor(browser, cloud)
    r = visitor.context.request.post(
        f"{cloud.gateway}/login", data={"username": username, "password": PASSWORD}
    )
    assert r.status == 200, r.text()
    return visitor


def test_9_viewer_sees_no_write_buttons_and_stranger_sees_not_found(journey, browser, cloud):
    journey.needs("run")
    page = journey.me.page
    viewer_name, stranger_name = _person(cloud, "vic"), _person(cloud, "stan")
    page.goto(journey.project_url + "/members")
    page.get_by_label("Username").fill(viewer_name)
    page.get_by_label("Role", exact=True).select_option("viewer")
    page.get_by_role("button", name="Add member").click()
    expect(page.get_by_role("status").filter(has_text=f"{viewer_name} added as viewer")).to_be_visible()

    viewer = _signed_in(browser, cloud, viewer_name)
    try:
        v = viewer.page
        v.goto(journey.project_url + "/jobs")
        expect(v.get_by_role("link", name="orders")).to_be_visible()
        expect(v.get_by_role("link", name="New job")).to_have_count(0)
        expect(v.get_by_role("button", name=re.compile("Sync .* now"))).to_have_count(0)
        expect(v.get_by_role("link", name="API keys")).to_have_count(0)
        v.get_by_role("link", name="orders").click()
        expect(v.get_by_role("heading", name="Job orders")).to_be_visible()
        expect(v.get_by_role("button")).to_have_text(["Sign out"])  # the only button on the page
        v.get_by_role("navigation", name="Project").get_by_role("link", name="Sources").click()
        expect(v.get_by_role("link", name="exports")).to_be_visible()
        expect(v.get_by_role("button", name=re.compile("^Delete"))).to_have_count(0)
        expect(v.get_by_role("link", name="New source")).to_have_count(0)
        viewer.shot("09-viewer-sources")
        viewer.watch.check()
    finally:
        viewer.context.close()

    stranger = _signed_in(browser, cloud, stranger_name)
    try:
        stranger.watch.allow("GET", r"/api/v1/project/[^/]+$", 404)
        stranger.page.goto(journey.project_url + "/jobs")
        expect(stranger.page.get_by_role("heading", name="Not found")).to_be_visible()
        expect(stranger.page.get_by_text("lakehouse")).to_have_count(0)
        stranger.shot("09-stranger-not-found")
        stranger.watch.check()
    finally:
        stranger.context.close()


def test_10_delete_shows_why_a_used_source_stays(journey):
    """Deleting a connector that a job uses is refused (409); the console shows the API's reason."""
    journey.needs("run")
    page, watch = journey.me.page, journey.me.watch
    page.goto(journey.project_url + "/sources")
    page.get_by_role("button", name="Delete exports").click()
    dialog = page.get_by_role("dialog", name="Delete the source exports?")
    expect(dialog).to_be_visible()
    watch.allow("DELETE", r"/sources/[^/]+$", 409)
    dialog.get_by_role("button", name="Delete", exact=True).click()
    expect(page.get_by_role("alert")).to_contain_text("The source is used by 1 job(s): 'orders'")
    expect(page.get_by_role("link", name="exports")).to_be_visible()


def test_11_pages_fit_a_390_px_screen(journey, browser, cloud):
    """At a phone's width nothing runs off the page sideways (wide tables scroll inside their box)."""
    journey.needs("run")
    narrow = open_visitor(browser, cloud, width=390, height=844)
    try:
        narrow.context.add_cookies(journey.me.context.cookies())
        for where in ("jobs", "sources/new", "syncs", "members"):
            narrow.page.goto(f"{journey.project_url}/{where}")
            expect(narrow.page.get_by_role("navigation", name="Project")).to_be_visible()
            narrow.page.wait_for_load_state("networkidle")
            overflow = narrow.page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
            narrow.shot(f"11-narrow-{where.replace('/', '-')}")
            assert overflow <= 0, f"{where}: {overflow} px wider than the screen"
        narrow.watch.check()
    finally:
        narrow.context.close()


def test_12_multipart_upload_resumes_after_a_reload(journey, tmp_path):
    """A connection cut mid-upload, then a reload: dropping the same file again sends only the parts S3
    does not have yet (the upload id was kept in localStorage), and completes the file."""
    journey.needs("project")
    page, watch = journey.me.page, journey.me.watch
    data = tmp_path / "resume.csv"
    with open(data, "w") as out:
        out.write("id,value\n")
        row = 0
        while out.tell() < 12 * 1024 * 1024:  # two parts of 8 MiB
            out.write(f"{row},{row * 3}\n")
            row += 1
    page.goto(journey.project_url + "/syncs")
    page.get_by_label("Lake path").fill("/sales/resumed")
    page.get_by_role("button", name="Start sync").click()
    expect(page.get_by_role("heading", name=re.compile("Upload sync"))).to_be_visible()

    watch.allow_failure(r"partNumber=2")
    page.route(re.compile(r"partNumber=2"), lambda route: route.abort("connectionreset"))
    part_one = re.compile(r"partNumber=1\b")
    with page.expect_response(lambda r: r.request.method == "PUT" and part_one.search(r.url), timeout=30_000):
        page.get_by_label("Choose files to upload").set_input_files(str(data))
    uploads = page.get_by_role("region", name="Uploads")
    expect(uploads).to_contain_text("failed: a part upload was interrupted", timeout=30_000)
    page.unroute(re.compile(r"partNumber=2"))

    watch.allow_failure(r"/syncs/\d+")  # the reload cuts the page's polls of the sync short
    page.reload()
    expect(page.get_by_role("status").filter(has_text="Interrupted uploads: resume.csv")).to_be_visible()
    sent_before = len(watch.requests)
    page.get_by_label("Choose files to upload").set_input_files(str(data))
    expect(uploads).to_contain_text("resumed", timeout=30_000)
    expect(uploads).to_contain_text("done: uploaded", timeout=30_000)
    parts = [u for m, u in watch.requests[sent_before:] if m == "PUT" and "partNumber=" in u]
    assert len(parts) == 1 and "partNumber=2" in parts[0], parts  # part 1 was not sent again
    page.get_by_role("button", name="End sync").click()
    expect(page.locator("dl.facts")).to_contain_text("Finished", timeout=60_000)
    expect(page.get_by_role("region", name="Sync files")).to_contain_text("resume.csv")
