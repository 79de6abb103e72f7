"""The OpenAPI document describes what the service does: a bounded schemathesis run.

Every operation gets generated requests (valid and invalid); each answer must be no 5xx, a
documented status code, a documented content type, and match its documented schema. One
schemathesis check is left out: "schema-valid request rejected" — the service rightly refuses
some schema-valid requests for reasons a schema cannot state (a user with no history, an item id
that is not in the catalogue, k above the configured maximum).
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import pytest

schemathesis = pytest.importorskip("schemathesis")

from hypothesis import HealthCheck, settings  # noqa: E402
from schemathesis.specs.openapi.checks import positive_data_acceptance  # noqa: E402

from lmrec.models.classic.itemknn import ItemKNN  # noqa: E402
from lmrec.service.api import create_app  # noqa: E402
from lmrec.service.engine import RecommendService  # noqa: E402
from lmrec.service.messages import ServiceLimits  # noqa: E402
from lmrec.service.store import Store  # noqa: E402
from service_helpers import tiny_dataset  # noqa: E402


def build_app(folder: Path) -> Any:
    ds = tiny_dataset(folder)
    store = Store.open(f"sqlite:///{folder / 'contract.sqlite'}")
    store.import_dataset(ds)
    model = ItemKNN().fit(ds.interactions)
    return create_app(RecommendService(ds, model, store, ServiceLimits(max_k=5), "itemknn"))


# built at import: schemathesis parametrizes the test from the schema before fixtures exist
schema = schemathesis.openapi.from_asgi("/openapi.json", build_app(Path(tempfile.mkdtemp())))


@schema.parametrize()
@settings(max_examples=30, deadline=None, suppress_health_check=list(HealthCheck))
def test_every_operation_keeps_its_documented_contract(case: Any) -> None:
    case.call_and_validate(excluded_checks=[positive_data_acceptance])
