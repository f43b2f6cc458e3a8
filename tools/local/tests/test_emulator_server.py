"""The emulator's HTTP handling: kept-alive connections, each body read and each answer written whole.

Served in this process with small WSGI applications, so every case is quick and its failure plain; the local run and
the end-to-end tests cover moto's own applications behind the same handler.
"""

from __future__ import annotations

import http.client
import threading
from collections.abc import Callable, Iterable, Iterator
from typing import Any

import pytest

from tools.local.emulator_server import serve

StartResponse = Callable[..., Any]
App = Callable[[dict[str, Any], StartResponse], Iterable[bytes]]


def echo(environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
    """Answers with the method, the path and the body it read, in two pieces and without a length."""
    stream = environ["wsgi.input"]  # read to its end only when dechunked; otherwise, as WSGI asks, to its length
    length = None if environ.get("wsgi.input_terminated") else int(environ.get("CONTENT_LENGTH") or 0)
    body = stream.read() if length is None else stream.read(length)
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [f"{environ['REQUEST_METHOD']} {environ['PATH_INFO']} ".encode(), body]


def failing(environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
    raise RuntimeError("a bug in the application")


def no_content(environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
    start_response("204 No Content", [])
    return []


@pytest.fixture
def serving() -> Iterator[Callable[[App], http.client.HTTPConnection]]:
    servers = []

    def connect(app: App) -> http.client.HTTPConnection:
        server = serve(app)
        servers.append(server)
        threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
        return http.client.HTTPConnection("127.0.0.1", server.port, timeout=5)

    yield connect
    for server in servers:
        server.shutdown()
        server.server_close()


def exchange(
    connection: http.client.HTTPConnection, method: str, path: str, body: Any = None, **options: Any
) -> tuple[int, dict[str, str], bytes]:
    connection.request(method, path, body=body, **options)
    response = connection.getresponse()
    return response.status, {name.lower(): value for name, value in response.getheaders()}, response.read()


def test_requests_follow_each_other_on_one_connection_each_body_read_whole(
    serving: Callable[[App], http.client.HTTPConnection],
) -> None:
    connection = serving(echo)
    status, headers, body = exchange(connection, "POST", "/first", body=b"x" * 70_000)
    first_socket = connection.sock
    assert (status, body) == (200, b"POST /first " + b"x" * 70_000)
    assert headers["content-length"] == str(len(body))  # written with its length though the application gave none
    assert "connection" not in headers
    assert exchange(connection, "POST", "/second", body=b"")[2] == b"POST /second "
    assert exchange(connection, "GET", "/third")[2] == b"GET /third "
    assert connection.sock is first_socket  # never reconnected


def test_an_answer_without_a_body_leaves_nothing_on_the_connection(
    serving: Callable[[App], http.client.HTTPConnection],
) -> None:
    connection = serving(echo)
    status, headers, body = exchange(connection, "HEAD", "/head")
    assert (status, body, "content-length" in headers) == (200, b"", False)
    assert exchange(connection, "GET", "/after")[2] == b"GET /after "
    other = serving(no_content)
    status, headers, body = exchange(other, "DELETE", "/object")
    assert (status, body, "content-length" in headers) == (204, b"", False)
    assert exchange(other, "DELETE", "/again")[0] == 204


def test_an_application_error_answers_500_and_closes_the_connection(
    serving: Callable[[App], http.client.HTTPConnection],
) -> None:
    status, headers, body = exchange(serving(failing), "GET", "/")
    assert (status, headers["connection"], body) == (500, "close", b"Internal Server Error")


@pytest.mark.parametrize(
    ("options", "headers"),
    [
        ({"body": iter([b"chunk one ", b"chunk two"]), "encode_chunked": True}, {}),
        ({"body": b"chunk one chunk two"}, {"Expect": "100-continue"}),
    ],
    ids=["chunked body", "expect 100-continue"],
)
def test_a_chunked_or_expecting_request_is_answered_by_werkzeug_which_closes_the_connection(
    serving: Callable[[App], http.client.HTTPConnection], options: dict[str, Any], headers: dict[str, str]
) -> None:
    status, answer_headers, body = exchange(serving(echo), "PUT", "/object", headers=headers, **options)
    assert (status, body) == (200, b"PUT /object chunk one chunk two")
    assert answer_headers["connection"] == "close"
