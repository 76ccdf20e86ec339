"""A Lambda-compatible Invoke endpoint for Sluice's tests: AWS Lambda's
`POST /2015-03-31/functions/<FunctionName>/invocations` (RequestResponse) running unmodified
Python handlers, `lambda_handler(event, context)`, from `functions/<name>.py`.

    python invoke_server.py [--timeout NAME=SECONDS ...] [--throttle NAME=N ...]

Prints `listening on 127.0.0.1:<port>` once it accepts calls, then one JSON line per
invocation (function, record count, result) so tests can count attempts.

It behaves like Lambda where Sluice can tell: the function's name comes from the path label
(a name, `name:qualifier` or a full ARN, percent-encoded); the request must be SigV4-signed for
service `lambda` with the test access key (else 403 AccessDeniedException); an unknown
function is 404 ResourceNotFoundException; a body that is not JSON is 400
InvalidRequestContentException; a handler that raises or runs past its timeout answers 200 with
`X-Amz-Function-Error: Unhandled` and Lambda's error object; `--throttle NAME=N` answers the
first N calls 429 TooManyRequestsException. Standard library only.
"""

import importlib.util
import json
import os
import sys
import threading
import time
import traceback
import urllib.parse
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

ACCESS_KEY = "AKIDLAMBDATEST"
FUNCTIONS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "functions")
PREFIX = "/2015-03-31/functions/"
SUFFIX = "/invocations"

timeouts = {}
throttles = {}
lock = threading.Lock()
modules = {}


def function_name(label):
    """`name`, `name:qualifier`, `account:function:name[:q]` or a full ARN → `name`."""
    parts = urllib.parse.unquote(label).split(":")
    if "function" in parts:
        return parts[parts.index("function") + 1]
    return parts[0]


def load(name):
    with lock:
        if name in modules:
            return modules[name]
        path = os.path.join(FUNCTIONS, name + ".py")
        if not os.path.isfile(path):
            return None
        spec = importlib.util.spec_from_file_location("fn_" + name, path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        modules[name] = module
        return module


class Context:
    def __init__(self, name, timeout):
        self.function_name = name
        self.function_version = "$LATEST"
        self.invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:" + name
        self.memory_limit_in_mb = "128"
        self.aws_request_id = str(uuid.uuid4())
        self.log_group_name = "/aws/lambda/" + name
        self.log_stream_name = "test"
        self._deadline = time.time() + timeout

    def get_remaining_time_in_millis(self):
        return max(0, int((self._deadline - time.time()) * 1000))


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def reply(self, status, body, headers=()):
        data = json.dumps(body).encode() if not isinstance(body, bytes) else body
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.send_header("X-Amzn-RequestId", str(uuid.uuid4()))
        for k, v in headers:
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(data)

    def error(self, status, code, message):
        self.reply(status, {"Type": "User", "message": message}, [("X-Amzn-ErrorType", code)])

    def do_POST(self):
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length)
        path = self.path.split("?", 1)[0]
        if not (path.startswith(PREFIX) and path.endswith(SUFFIX)):
            return self.error(404, "UnknownOperationException", "unknown operation " + path)
        auth = self.headers.get("Authorization") or ""
        if "Credential=" + ACCESS_KEY + "/" not in auth or "/lambda/aws4_request" not in auth:
            return self.error(403, "AccessDeniedException", "not signed for lambda with the test key")
        if (self.headers.get("X-Amz-Invocation-Type") or "RequestResponse") != "RequestResponse":
            return self.error(400, "InvalidParameterValueException", "only RequestResponse")
        name = function_name(path[len(PREFIX):-len(SUFFIX)])
        module = load(name)
        if module is None:
            return self.error(404, "ResourceNotFoundException", "Function not found: " + name)
        try:
            event = json.loads(body)
        except ValueError:
            return self.error(400, "InvalidRequestContentException", "Could not parse request body into json")
        with lock:
            left = throttles.get(name, 0)
            if left > 0:
                throttles[name] = left - 1
        records = len(event.get("records") or [])
        if left > 0:
            log(name, records, "throttled")
            return self.reply(429, {"Reason": "ConcurrentInvocationLimitExceeded", "Type": "User", "message": "Rate Exceeded."},
                              [("X-Amzn-ErrorType", "TooManyRequestsException"), ("Retry-After", "1")])
        timeout = timeouts.get(name, 60.0)
        result = {}

        def run():
            try:
                result["value"] = module.lambda_handler(event, Context(name, timeout))
            except Exception as e:  # the runtime catches what the handler raises
                result["error"] = {"errorMessage": str(e), "errorType": type(e).__name__,
                                   "stackTrace": traceback.format_tb(e.__traceback__)}

        worker = threading.Thread(target=run, daemon=True)
        worker.start()
        worker.join(timeout)
        if worker.is_alive():
            log(name, records, "timeout")
            message = "Task timed out after %.2f seconds" % timeout
            return self.reply(200, {"errorMessage": message, "errorType": "Sandbox.Timedout"},
                              [("X-Amz-Function-Error", "Unhandled"), ("X-Amz-Executed-Version", "$LATEST")])
        if "error" in result:
            log(name, records, "error")
            return self.reply(200, result["error"],
                              [("X-Amz-Function-Error", "Unhandled"), ("X-Amz-Executed-Version", "$LATEST")])
        log(name, records, "ok")
        value = result.get("value")
        payload = value if isinstance(value, bytes) else json.dumps(value).encode()
        self.reply(200, payload, [("X-Amz-Executed-Version", "$LATEST")])


def log(name, records, outcome):
    with lock:
        print(json.dumps({"function": name, "records": records, "result": outcome}), flush=True)


def main():
    args = sys.argv[1:]
    while args:
        flag, value = args[0], args[1]
        name, _, n = value.partition("=")
        if flag == "--timeout":
            timeouts[name] = float(n)
        elif flag == "--throttle":
            throttles[name] = int(n)
        else:
            raise SystemExit("unknown flag " + flag)
        args = args[2:]
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    print("listening on 127.0.0.1:%d" % server.server_address[1], flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
