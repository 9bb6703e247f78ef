"""Property-based checks of the service against its own OpenAPI document (schemathesis).

schemathesis is a dev dependency, so this runs wherever the suite does (CI included): no
skip. The document declares the name rule (patterns), the form limits and their 408/413
answers, so generated requests meet them and every answer must be one it lists.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator

import pytest
import schemathesis

from engine.core import Engine
from engine.service import ServiceConfig, create_app
from engine.service.openapi import openapi_document

from .conftest import AUTH, TOKEN

EXAMPLES_PER_OPERATION = 4


@pytest.fixture
def live_url(engine: Engine) -> Iterator[str]:
    """The service on 127.0.0.1 in a thread of its own (schemathesis calls it synchronously)."""
    from aiohttp import web

    loop = asyncio.new_event_loop()
    started, stop = threading.Event(), asyncio.Event()
    address: list[str] = []

    async def main() -> None:
        runner = web.AppRunner(create_app(engine, ServiceConfig(token=TOKEN)))
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        host, port = runner.addresses[0][:2]
        address.append(f"http://{host}:{port}")
        started.set()
        await stop.wait()
        await runner.cleanup()

    thread = threading.Thread(target=loop.run_until_complete, args=(main(),), daemon=True)
    thread.start()
    assert started.wait(30), "the service did not start"
    yield address[0]
    loop.call_soon_threadsafe(stop.set)
    thread.join(30)
    loop.close()


def test_every_operation_conforms_to_the_document(live_url: str) -> None:
    from hypothesis import HealthCheck, Phase, given, settings
    from schemathesis.checks import not_a_server_error
    from schemathesis.specs.openapi.checks import (
        content_type_conformance,
        response_schema_conformance,
        status_code_conformance,
    )

    checks = [
        not_a_server_error,
        status_code_conformance,
        content_type_conformance,
        response_schema_conformance,
    ]
    schema = schemathesis.openapi.from_dict(openapi_document())
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) == 21
    for operation in operations:

        @settings(
            max_examples=EXAMPLES_PER_OPERATION,
            deadline=None,
            database=None,
            derandomize=True,
            phases=[Phase.generate],
            suppress_health_check=list(HealthCheck),
        )
        @given(case=operation.as_strategy())
        def check(case) -> None:
            case.call_and_validate(base_url=live_url, headers=AUTH, checks=checks)

        check()
