"""The API's gunicorn worker: gevent (a greenlet a connection), with the errors gunicorn
answers itself, before the app sees a request (a request line over 8190 bytes, headers over
their limits, a malformed request line), in the API's one JSON error shape instead of HTML.

`gunicorn --worker-class api.server.ApiWorker` (`devstack.processes.GUNICORN_SERVER` and the
image's entrypoint).
"""

from __future__ import annotations

import json
import socket

from gunicorn import util
from gunicorn.workers.ggevent import GeventWorker

from api.errors import error_body

# gunicorn's own refusals: status -> (reason, message), stable like the app's.
SERVER_ERRORS: dict[int, tuple[str, str]] = {
    400: ("bad_request", "The request is malformed."),
    403: ("forbidden", "The request is forbidden."),
    414: ("request_line_too_long", "The request line is longer than 8190 bytes."),
    417: ("expectation_failed", "The Expect header cannot be met."),
    431: ("headers_too_large", "The request's headers are over their limits."),
    500: ("internal_error", "Internal error; the server log has the details."),
    501: ("not_implemented", "This transfer coding is not supported."),
}


def write_json_error(sock: socket.socket, status_int: int, reason: str, mesg: str) -> None:
    """gunicorn's `util.write_error`, writing the API's error shape (`mesg`, which may echo
    the request, is not sent back)."""
    code, message = SERVER_ERRORS.get(status_int, SERVER_ERRORS[400])
    body = json.dumps(error_body(status_int, code, message)).encode()
    head = (
        f"HTTP/1.1 {status_int} {reason}\r\nConnection: close\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
    )
    util.write_nonblock(sock, head.encode("latin1") + body)


class ApiWorker(GeventWorker):
    def init_process(self) -> None:
        # In this worker process only: gunicorn's workers call util.write_error by name.
        util.write_error = write_json_error
        super().init_process()
