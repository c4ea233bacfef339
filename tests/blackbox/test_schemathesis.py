"""Property-based fuzzing of every operation of the served OpenAPI with schemathesis, with a write token of
workspace A, valid and invalid requests alike: no answer is a 5xx, and every answer conforms to the schema
(a documented status, content type, headers and body).

One test per operation, listed from the app's own OpenAPI at collection time and run against the schema the live
server serves (schemathesis's pytest plugin does not run under this pytest). Bounded: DOCKET_FUZZ_EXAMPLES cases per
operation and mode (positive, negative), about a minute in all."""

import os

import pytest
from sqlalchemy import create_engine

from tests.blackbox.conftest import skip_or_fail

try:
    import schemathesis
    from hypothesis import HealthCheck, given, settings
    from hypothesis import strategies as st
    from schemathesis import GenerationMode
    from schemathesis.specs.openapi.checks import positive_data_acceptance
except ImportError:  # pragma: no cover - a dev dependency
    schemathesis = None

EXAMPLES = int(os.environ.get("DOCKET_FUZZ_EXAMPLES", "20"))
CASES: dict[str, int] = {}


def _operations() -> list[tuple[str, str]]:
    from service.main import create_app

    spec = create_app(create_engine("sqlite://")).openapi()
    return [(method.upper(), path) for path, ops in spec["paths"].items() for method in ops]


@pytest.fixture(scope="session")
def served_schema(world):
    if schemathesis is None:
        skip_or_fail("schemathesis is not installed (pip install -e '.[dev]')")
    return schemathesis.openapi.from_url(f"{world.server.url}/api/openapi.json")


@pytest.mark.parametrize(("method", "path"), _operations(), ids=lambda v: v)
def test_the_api_never_fails_and_answers_as_documented(served_schema, world, method, path):
    operation = served_schema[path][method]
    strategy = st.one_of(operation.as_strategy(GenerationMode.POSITIVE),
                         operation.as_strategy(GenerationMode.NEGATIVE))
    token = {"Authorization": f"Bearer {world.token_a}"}

    @given(case=strategy)
    @settings(max_examples=2 * EXAMPLES, deadline=None, derandomize=True, database=None,
              suppress_health_check=list(HealthCheck))
    def fuzz(case):
        CASES[f"{method} {path}"] = CASES.get(f"{method} {path}", 0) + 1
        # Every check schemathesis has but one: a record's body is checked against its kind's own schema, which
        # the OpenAPI's `body: object` does not spell out, so a body valid by the OpenAPI alone may rightly be refused.
        case.call_and_validate(base_url=world.server.url, headers=token, timeout=30,
                               excluded_checks=[positive_data_acceptance])

    fuzz()


def test_fuzz_counts(capsys):
    """Runs last in this file: how many cases the fuzzing sent."""
    with capsys.disabled():
        print(f"\nschemathesis: {sum(CASES.values())} cases over {len(CASES)} operations")
