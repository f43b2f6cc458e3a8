"""The private parts of moto and werkzeug that the emulator's shortcuts replace are still there, shaped as assumed.

Each shortcut (tools/local/emulator_server.py, ADR 0012) replaces a module attribute or a method. Replacing a method
that no longer exists fails loudly, but assigning a module attribute that was renamed would silently do nothing, and a
method whose parameters changed would be called wrongly. These tests fail on the dependency upgrade that breaks a bet,
before a run does; the equivalence tests in test_emulator.py check that each shortcut still answers as moto does.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

import pytest
from moto import backends
from moto.cloudwatch.models import CloudWatchBackend
from moto.core import responses as moto_responses
from moto.core.responses import ActionResult, BaseResponse
from moto.core.serialize import TimestampSerializer
from moto.dynamodb.models.dynamo_type import Item, LimitedSizeDict
from moto.kinesis.models import Shard
from moto.moto_server import werkzeug_app
from moto.moto_server.werkzeug_app import MotoRequestHandler
from moto.sqs.models import Queue

from tools.local import emulator_server


@pytest.mark.parametrize(
    ("target", "parameters"),
    [
        (backends.list_of_moto_modules, []),
        (moto_responses.method_names_from_class, ["clazz"]),  # type: ignore[attr-defined]
        (ActionResult.execute_result, ["self", "context"]),
        (BaseResponse.parse_parameters, ["self", "request"]),
        (BaseResponse._get_action, ["self"]),
        (Item.__init__, ["self", "hash_key", "range_key", "attrs"]),
        (Shard.get_max_sequence_number, ["self"]),
        (Shard.get_records, ["self", "last_sequence_id", "limit"]),
        (TimestampSerializer._timestamp_unixtimestamp, ["value"]),
        (MotoRequestHandler.make_environ, ["self"]),
        (CloudWatchBackend.get_metric_data, ["self", "queries", "start_time", "end_time", "scan_by"]),
        (MotoRequestHandler.run_wsgi, ["self"]),
    ],
    ids=lambda value: getattr(value, "__qualname__", "") if callable(value) else "",
)
def test_each_replaced_or_wrapped_callable_keeps_the_parameters_the_shortcut_takes(
    target: Callable[..., Any], parameters: list[str]
) -> None:
    assert list(inspect.signature(target).parameters) == parameters


def test_the_module_attributes_the_shortcuts_assign_exist_before_they_do() -> None:
    """An assignment to a renamed attribute would add a new one that nothing reads."""
    assert callable(backends.list_of_moto_modules)
    assert callable(getattr(moto_responses, "method_names_from_class", None))
    assert isinstance(getattr(werkzeug_app, "DISABLE_GLOBAL_CORS", None), bool)
    assert isinstance(vars(Queue).get("attributes"), property)


def test_the_shortcuts_read_what_they_assume_of_a_shard_and_an_item() -> None:
    shard = Shard(0, 0, 1, "readings", "eu-west-1")
    assert list(shard.records) == []  # ordered by sequence number, as records_after reads it
    assert emulator_server.last_sequence_number(shard) == 0
    assert isinstance(LimitedSizeDict(), dict)
    assert hasattr(Item, "size")
    names = (Queue.BASE_ATTRIBUTES, Queue.FIFO_ATTRIBUTES, Queue.KMS_ATTRIBUTES)
    assert all(isinstance(listed, list) and listed for listed in names)


def test_the_emulators_request_handler_is_motos() -> None:
    """moto's handler keeps headers with underscores (S3 user metadata); the keep-alive handler builds on it."""
    assert issubclass(emulator_server.EmulatorRequestHandler, MotoRequestHandler)
