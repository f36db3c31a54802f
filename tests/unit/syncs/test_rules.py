"""The upload-sync rules alone: lake paths, file names, part plans, object identity, dialect models."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from functions.core.errors import Invalid
from functions.core.models.upload_syncs import MAX_PARTS, MiB, SyncStart, SyncType
from functions.core.repositories.upload_syncs import object_id
from functions.core.services.upload_syncs import clean_file_name, normalize_path, plan_parts


@pytest.mark.parametrize(
    ("raw", "normalized"),
    [
        ("/data/db/transactions", "data/db/transactions"),
        ("data//db/", "data/db"),
        ("\\\\data\\db", "data/db"),
        ("  orders/2024 ", "orders/2024"),
        ("ventes/été", "ventes/été"),
    ],
)
def test_paths_are_normalized_into_the_project_lake(raw, normalized):
    assert normalize_path(raw) == normalized


@pytest.mark.parametrize(
    "raw",
    [
        "..",
        "../x",
        "a/../../b",
        "a/..",
        "./a",
        "a/.hidden",
        "a\x00b",
        "a\nb",
        "a\x7f",
        "/",
        "  ",
        "x" * 513,
        "a/" + "b" * 256,
    ],
)
def test_paths_that_could_escape_or_hide_are_refused(raw):
    with pytest.raises(Invalid) as err:
        normalize_path(raw)
    assert err.value.field == "path"


def test_file_names_keep_the_base_name_only():
    assert clean_file_name("C:\\Users\\a\\orders.csv") == "orders.csv"
    assert clean_file_name("../../etc/passwd") == "passwd"
    for bad in (None, "", "..", "dir/", "a\x01.csv", "x" * 256):
        with pytest.raises(Invalid):
            clean_file_name(bad)


def test_part_plans_stay_within_s3_limits():
    assert plan_parts(12 * MiB, 5 * MiB) == (5 * MiB, 3)
    assert plan_parts(10, None) == (8 * MiB, 1)
    size, count = plan_parts(5 * 1024**4, None)  # 5 TiB: the default grows to fit 10,000 parts
    assert count <= MAX_PARTS and size * count >= 5 * 1024**4
    with pytest.raises(Invalid) as err:
        plan_parts(100 * 1024**3, 5 * MiB)
    assert err.value.field == "part_size"


def test_object_identity_is_key_and_etag():
    assert object_id("uploads/p/1/t/a.csv", '"abc"') == object_id("uploads/p/1/t/a.csv", "abc")
    assert object_id("uploads/p/1/t/a.csv", "abc") != object_id("uploads/p/1/t/a.csv", "abd")
    assert len(object_id("k", "e")) == 16


def test_the_seed_spellings_of_sync_type_are_accepted():
    for spelling in ("FullSync", "Full Sync", "fullsync"):
        assert SyncStart(path="p", sync_type=spelling).sync_type is SyncType.FullSync
    assert SyncStart(path="p", sync_type="Incremental Sync").sync_type is SyncType.IncrementalSync
    with pytest.raises(ValidationError):
        SyncStart(path="p", sync_type="Sometimes")
    with pytest.raises(ValidationError):
        SyncStart(path="p", unknown=1)


def test_the_api_function_does_not_import_the_engine():
    import subprocess
    import sys

    code = "import sys, functions.syncs.handler; print('pyarrow' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
