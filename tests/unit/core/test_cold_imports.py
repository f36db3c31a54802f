"""What an API function loads at cold start: its own family's models, not every family's (the pydantic
model classes are most of an API function's own import time; `make bench` measures it)."""

from __future__ import annotations

import importlib
import json
import subprocess
import sys

import pytest

import functions.core.models as models

OWN_MODELS = {
    "auth": {"common", "accounts"},
    "projects": {"common", "projects"},
    "connectors": {"common", "connectors"},
    "jobs": {"common", "connectors", "jobs"},
    "syncs": {"common", "upload_syncs"},
}


@pytest.mark.parametrize("family", sorted(OWN_MODELS))
def test_an_api_function_loads_only_the_models_it_serves(family):
    code = (
        f"import json, sys, functions.{family}.handler; "
        "print(json.dumps(sorted(m.rsplit('.', 1)[1] for m in sys.modules "
        "if m.startswith('functions.core.models.'))))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert set(json.loads(out.stdout)) <= OWN_MODELS[family]


def test_every_listed_model_name_resolves_from_its_module():
    for module, names in models._EXPORTS.items():
        source = importlib.import_module(f"functions.core.models.{module}")
        for name in names:
            assert getattr(models, name) is getattr(source, name)
    assert sorted(models.__all__) == sorted(n for names in models._EXPORTS.values() for n in names)
    with pytest.raises(AttributeError):
        _ = models.NoSuchModel
