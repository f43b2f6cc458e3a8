"""moto's server for the local run: one process to deploy into, then a copy of it per group of services.

Started by tools/local/emulator.py as ``python emulator_server.py``; it speaks JSON lines on stdin and stdout:
- once listening it replies ``{"port": ..., "modelled_types": [...]}``: its loopback port, and the resource types
  moto's CloudFormation models (the deploy needs them, and would otherwise import all of moto a second time);
- ``{"fork": "<group>"}`` forks a copy of this process, with every resource deployed so far, that listens on a
  port of its own and replies ``{"group": ..., "port": ..., "pid": ...}``. Services that share no state each get a
  copy, so that their requests run on every core instead of in one interpreter;
- the end of stdin stops this process and every copy it forked; a copy stops when its parent is gone.
Standard library and moto only.
"""

import json
import logging
import os
import signal
import sys
import threading
import time
from collections.abc import Callable
from typing import Any

if __name__ == "__main__":
    # jsonschema (which moto's API Gateway imports) builds a Lark grammar for the IRI formats when rfc3987_syntax is
    # importable, and that alone is seconds of every start. Nothing deployed here validates an IRI, and jsonschema
    # treats the module as optional.
    sys.modules["rfc3987_syntax"] = None  # type: ignore[assignment]

from moto import backends
from moto.cloudformation.parsing import get_model_map
from moto.core.responses import ActionContext, ActionResult
from moto.kinesis.models import Shard
from moto.moto_server.werkzeug_app import (
    DomainDispatcherApplication,
    MotoRequestHandler,
    create_backend_app,
)
from werkzeug.serving import BaseWSGIServer, make_server

HOST = "127.0.0.1"
PARENT_POLL_SECONDS = 0.5
# Item operations, whose results moto builds as JSON documents already in DynamoDB's wire shape.
PLAIN_JSON_OPERATIONS = frozenset(
    ("dynamodb", operation) for operation in ("BatchGetItem", "BatchWriteItem", "GetItem", "PutItem", "Query", "Scan")
)
Serialize = Callable[[ActionResult, ActionContext], Any]


def with_plain_json(serialize: Serialize) -> Serialize:
    """moto's response serializer, except that item operations' results are written with ``json.dumps``.

    moto's serializer walks the API model for every attribute value (a structure of ten members), which made
    reading items back most of the checks' time. Whatever ``json.dumps`` cannot write as it is (a value still held
    as a moto object, a null that the model would leave out) goes through moto's serializer.
    """

    def serialized(result: ActionResult, context: ActionContext) -> Any:
        document = result.result
        operation = (context.service_model.service_name, context.operation_model.name)
        if operation in PLAIN_JSON_OPERATIONS and isinstance(document, dict) and None not in document.values():
            try:
                return 200, {"Content-Type": "application/x-amz-json-1.0"}, json.dumps(document)
            except TypeError:
                pass
        return serialize(result, context)

    return serialized


def last_sequence_number(shard: Shard) -> int:
    return next(reversed(shard.records), 0)


def install_shortcuts() -> None:
    """Spare the emulator work that changes nothing in what it answers."""
    # moto lists its own package directory on every request to route it; the listing never changes while it runs.
    moto_modules = frozenset(backends.list_of_moto_modules())
    backends.list_of_moto_modules = lambda: moto_modules
    ActionResult.execute_result = with_plain_json(ActionResult.execute_result)  # type: ignore[method-assign,assignment]
    # moto finds a shard's last sequence number by copying all of its keys, on every record put: quadratic in the
    # stream's length. Its records are kept in order of arrival, so the last key is the last sequence number.
    Shard.get_max_sequence_number = last_sequence_number  # type: ignore[method-assign,assignment]
    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # a log line per request costs more than parsing it


def serve(app: DomainDispatcherApplication) -> BaseWSGIServer:
    return make_server(HOST, 0, app, threaded=True, request_handler=MotoRequestHandler)


def reply(document: dict[str, Any]) -> None:
    os.write(sys.stdout.fileno(), (json.dumps(document) + "\n").encode())


def main() -> None:
    install_shortcuts()
    app = DomainDispatcherApplication(create_backend_app)
    server = serve(app)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    reply({"port": server.port, "modelled_types": sorted(get_model_map())})
    copies: list[int] = []
    for line in sys.stdin:
        group = str(json.loads(line)["fork"])
        pid = os.fork()
        if pid == 0:
            _serve_copy(app, server, group)
        copies.append(pid)
    for pid in copies:
        os.kill(pid, signal.SIGTERM)
        os.waitpid(pid, 0)
    os._exit(0)  # nothing to flush; tearing down all of moto's modules would take a second or more


def _serve_copy(app: DomainDispatcherApplication, parent_server: BaseWSGIServer, group: str) -> None:
    """In the forked child: listen on a port of its own until killed, or until the parent is gone."""
    parent = os.getppid()
    parent_server.socket.close()  # the parent's port stays the parent's
    server = serve(app)
    threading.Thread(target=_exit_when_orphaned, args=(parent,), daemon=True).start()
    reply({"group": group, "port": server.port, "pid": os.getpid()})
    server.serve_forever()
    os._exit(0)


def _exit_when_orphaned(parent: int) -> None:
    while os.getppid() == parent:
        time.sleep(PARENT_POLL_SECONDS)
    os._exit(0)


if __name__ == "__main__":
    main()
