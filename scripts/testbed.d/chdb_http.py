#!/usr/bin/env python3
"""TEST FIXTURE -- NOT ClickHouse server.

A small HTTP front over chdb (the ClickHouse engine in-process, PyPI chdb==4.4.0 /
chdb-core 26.9) that imitates the parts of the ClickHouse HTTP interface cdcctl
uses, so cdcctl's ClickHouse client can be tested against the real SQL engine
on a machine where no modern ClickHouse *server* can be installed.

Only the HTTP layer below is imitation; the SQL, the table engines
(MergeTree family, TTL, insert deduplication, materialized views ...) and the
error codes/messages are ClickHouse's own.

What is imitated (see docs/testbed.md for the full list of differences):
  * GET /ping (and GET / with no query)  -> 200 "Ok.\\n"
  * the query comes from the URL parameter `query`, the request body, or both
    (URL query + "\\n" + body, as ClickHouse does, so
    `POST /?query=INSERT INTO t FORMAT JSONEachRow` with rows in the body works)
  * `database=`         -> the query runs with that current database
  * `default_format=`   -> output format unless the query has a FORMAT clause
                           (ClickHouse's HTTP default is TabSeparated)
  * `query_id=`         -> echoed in X-ClickHouse-Query-Id
  * `param_NAME=`       -> query parameters for {NAME:Type}
  * `user`/`password` URL params, X-ClickHouse-User/X-ClickHouse-Key headers or
    HTTP basic auth; checked only when --password is given (user `default`)
  * every other URL parameter is applied as a query setting for that request
    only (e.g. insert_deduplication_token, max_execution_time,
    date_time_input_format); an unknown one gives Code 115 UNKNOWN_SETTING
  * GET is read-only as on ClickHouse (Code 164 READONLY for modifying queries)
  * errors: HTTP status from ClickHouse's exceptionCodeToHTTPStatus table,
    header X-ClickHouse-Exception-Code: N, body "Code: N. DB::Exception: ..."
  * request bodies with Content-Encoding gzip/deflate are decoded

Not imitated: sessions (session_id), response compression, the native
`compress`/`decompress` codec, progress headers, multiple users/quotas/RBAC,
the TCP native protocol, the Kafka table engine, replication/clusters.

All access to the single chdb session is serialized with one lock; the data
path is on disk so data survives between requests and across restarts.
"""

import argparse
import base64
import gzip
import json
import os
import re
import signal
import sys
import threading
import time
import uuid
import zlib
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl, urlsplit

import chdb
from chdb import session as chdb_session

FIXTURE_NAME = "chdb-http-fixture"

# ClickHouse's src/Server/HTTP/exceptionCodeToHTTPStatus.cpp, by error name.
# The numeric codes are resolved at start-up with errorCodeToName() from the
# engine itself, so they cannot drift from the engine's own table.
STATUS_BY_NAME = {
    401: ["REQUIRED_PASSWORD"],
    403: ["UNKNOWN_USER", "WRONG_PASSWORD", "AUTHENTICATION_FAILED",
          "SET_NON_GRANTED_ROLE", "ACCESS_DENIED"],
    400: ["BAD_ARGUMENTS", "CANNOT_COMPILE_REGEXP", "CANNOT_PARSE_TEXT",
          "CANNOT_PARSE_ESCAPE_SEQUENCE", "CANNOT_PARSE_QUOTED_STRING",
          "CANNOT_PARSE_DATE", "CANNOT_PARSE_DATETIME", "CANNOT_PARSE_NUMBER",
          "CANNOT_PARSE_DOMAIN_VALUE_FROM_STRING", "CANNOT_PARSE_IPV4",
          "CANNOT_PARSE_IPV6", "CANNOT_PARSE_INPUT_ASSERTION_FAILED",
          "CANNOT_PARSE_UUID", "DUPLICATE_COLUMN", "ILLEGAL_COLUMN",
          "UNKNOWN_ELEMENT_IN_AST", "UNKNOWN_TYPE_OF_AST_NODE",
          "THERE_IS_NO_COLUMN", "TOO_DEEP_AST", "TOO_BIG_AST",
          "UNEXPECTED_AST_STRUCTURE", "SYNTAX_ERROR", "INCORRECT_DATA",
          "TYPE_MISMATCH", "VALUE_IS_OUT_OF_RANGE_OF_DATA_TYPE"],
    404: ["UNKNOWN_TABLE", "UNKNOWN_FUNCTION", "UNKNOWN_IDENTIFIER",
          "UNKNOWN_TYPE", "UNKNOWN_STORAGE", "UNKNOWN_DATABASE",
          "UNKNOWN_SETTING", "UNKNOWN_DIRECTION_OF_SORTING",
          "UNKNOWN_AGGREGATE_FUNCTION", "UNKNOWN_FORMAT",
          "UNKNOWN_DATABASE_ENGINE", "UNKNOWN_TYPE_OF_QUERY", "UNKNOWN_ROLE"],
    413: ["QUERY_IS_TOO_LARGE"],
    501: ["NOT_IMPLEMENTED"],
    503: ["SOCKET_TIMEOUT", "CANNOT_OPEN_FILE", "CANNOT_SCHEDULE_TASK"],
    411: ["HTTP_LENGTH_REQUIRED"],
    408: ["TIMEOUT_EXCEEDED"],
    415: ["UNSUPPORTED_MEDIA_TYPE"],
}

# URL parameters that are not settings (ClickHouse's HTTPHandler reserved names).
RESERVED_PARAMS = {
    "query", "database", "default_format", "query_id", "user", "password",
    "quota_key", "session_id", "session_timeout", "session_check", "compress",
    "decompress", "buffer_size", "wait_end_of_query", "stacktrace", "role",
    "client_protocol_version", "close_session", "default_session_timeout",
}

CONTENT_TYPES = {
    "TabSeparated": "text/tab-separated-values; charset=UTF-8",
    "TSV": "text/tab-separated-values; charset=UTF-8",
    "TabSeparatedWithNames": "text/tab-separated-values; charset=UTF-8",
    "TSVWithNames": "text/tab-separated-values; charset=UTF-8",
    "TabSeparatedWithNamesAndTypes": "text/tab-separated-values; charset=UTF-8",
    "CSV": "text/csv; charset=UTF-8; header=absent",
    "CSVWithNames": "text/csv; charset=UTF-8; header=present",
    "JSON": "application/json; charset=UTF-8",
    "JSONCompact": "application/json; charset=UTF-8",
    "JSONEachRow": "application/x-ndjson; charset=UTF-8",
    "JSONCompactEachRow": "application/x-ndjson; charset=UTF-8",
}

# Statements that modify data or schema; GET refuses them (ClickHouse: readonly=2).
MODIFYING_VERBS = ("INSERT", "CREATE", "DROP", "ALTER", "TRUNCATE", "RENAME",
                   "OPTIMIZE", "SYSTEM", "KILL", "DELETE", "UPDATE", "GRANT",
                   "REVOKE", "ATTACH", "DETACH", "EXCHANGE", "UNDROP", "BACKUP",
                   "RESTORE", "MOVE", "REPLACE", "UNDO")

FORMAT_CLAUSE = re.compile(r"\bFORMAT\s+([A-Za-z0-9_]+)", re.IGNORECASE)
CODE_RE = re.compile(r"^Code:\s*(\d+)\.")


class Engine:
    """One chdb session behind one lock."""

    def __init__(self, path):
        self.lock = threading.Lock()
        self.sess = chdb_session.Session(path)
        self.version = self._q("SELECT version()").strip()
        # Server-like defaults: chdb turns implicit_select on; the server does not.
        self._q("SET implicit_select = 0")
        self._q("CREATE DATABASE IF NOT EXISTS default")
        self._q("USE default")
        names = {}
        for line in self._q(
                "SELECT number, errorCodeToName(number) FROM numbers(2000) "
                "WHERE errorCodeToName(number) != ''").splitlines():
            num, name = line.split("\t")
            names[name] = int(num)
        self.status_by_code = {}
        for status, lst in STATUS_BY_NAME.items():
            for n in lst:
                if n in names:
                    self.status_by_code[names[n]] = status
        self.code_of = names
        self.baseline = self._changed_settings()

    def _q(self, sql, fmt="TabSeparated", params=None):
        res = self.sess.query(sql, fmt, params=params or {})
        return res.bytes().decode("utf-8", "replace")

    def _changed_settings(self):
        out = {}
        for line in self._q(
                "SELECT name, value FROM system.settings WHERE changed").splitlines():
            if "\t" in line:
                k, v = line.split("\t", 1)
                out[k] = v
        return out

    def _restore(self):
        """Undo every setting a request changed (URL params or SET in the query)."""
        try:
            now = self._changed_settings()
        except Exception:
            return
        for k, v in now.items():
            if k == "database":
                continue
            if k in self.baseline:
                if self.baseline[k] != v:
                    self._safe("SET %s = %s" % (k, quote(self.baseline[k])))
            else:
                self._safe("SET %s = DEFAULT" % k)
        self._safe("USE default")

    def _safe(self, sql):
        try:
            self._q(sql)
        except Exception as exc:  # pragma: no cover - logged only
            log("restore failed: %s: %s" % (sql, exc))

    def run(self, sql, fmt, database, settings, params):
        """Returns (body bytes, stats dict). Raises chdb errors."""
        with self.lock:
            try:
                self._q("USE %s" % ident(database or "default"))
                for k, v in settings:
                    self._q("SET %s = %s" % (k, quote(v)))
                t0 = time.monotonic()
                res = self.sess.query(sql, fmt, params=params)
                body = res.bytes()
                stats = {
                    "read_rows": str(safe_call(res, "rows_read")),
                    "read_bytes": str(safe_call(res, "bytes_read")),
                    "elapsed_ns": str(int((time.monotonic() - t0) * 1e9)),
                }
                return body, stats
            finally:
                self._restore()


def safe_call(obj, name):
    try:
        return int(getattr(obj, name)())
    except Exception:
        return 0


def quote(v):
    return "'" + str(v).replace("\\", "\\\\").replace("'", "\\'") + "'"


def ident(name):
    return "`" + name.replace("\\", "\\\\").replace("`", "\\`") + "`"


def log(msg):
    sys.stderr.write("%s %s\n" % (time.strftime("%Y-%m-%dT%H:%M:%S"), msg))
    sys.stderr.flush()


def strip_leading_comments(sql):
    s = sql.lstrip()
    while True:
        if s.startswith("--"):
            nl = s.find("\n")
            s = "" if nl < 0 else s[nl + 1:].lstrip()
        elif s.startswith("/*"):
            end = s.find("*/")
            s = "" if end < 0 else s[end + 2:].lstrip()
        else:
            return s


class Handler(BaseHTTPRequestHandler):
    server_version = FIXTURE_NAME
    sys_version = ""
    protocol_version = "HTTP/1.1"

    # -- plumbing ---------------------------------------------------------
    def log_message(self, fmt, *args):
        if self.server.verbose:
            log("%s %s" % (self.address_string(), fmt % args))

    def send(self, status, body, headers=None):
        if isinstance(body, str):
            body = body.encode("utf-8")
        self.send_response(status)
        hdrs = {"Content-Type": "text/plain; charset=UTF-8"}
        hdrs.update(headers or {})
        for k, v in hdrs.items():
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def send_exception(self, message, query_id, code=None):
        message = message.strip()
        if code is None:
            m = CODE_RE.match(message)
            code = int(m.group(1)) if m else 1001  # STD_EXCEPTION
        if not message.startswith("Code:"):
            message = "Code: %d. DB::Exception: %s" % (code, message)
        engine = self.server.engine
        status = engine.status_by_code.get(code, 500)
        body = "%s (version %s (%s))\n" % (message, engine.version, FIXTURE_NAME)
        self.send(status, body, {
            "X-ClickHouse-Exception-Code": str(code),
            "X-ClickHouse-Query-Id": query_id,
            "X-ClickHouse-Server-Display-Name": FIXTURE_NAME,
        })

    def read_body(self):
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            chunks = []
            while True:
                line = self.rfile.readline().strip()
                size = int(line.split(b";")[0], 16)
                if size == 0:
                    # trailers until blank line
                    while self.rfile.readline().strip():
                        pass
                    break
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
            data = b"".join(chunks)
        else:
            n = int(self.headers.get("Content-Length") or 0)
            data = self.rfile.read(n) if n > 0 else b""
        enc = self.headers.get("Content-Encoding", "").lower()
        if enc == "gzip":
            data = gzip.decompress(data)
        elif enc == "deflate":
            data = zlib.decompress(data)
        elif enc not in ("", "identity"):
            raise ValueError("Unknown Content-Encoding of HTTP request: %s" % enc)
        return data

    def credentials(self, params):
        user = self.headers.get("X-ClickHouse-User") or params.get("user")
        pw = self.headers.get("X-ClickHouse-Key") or params.get("password")
        auth = self.headers.get("Authorization", "")
        if auth.lower().startswith("basic "):
            try:
                u, _, p = base64.b64decode(auth[6:]).decode().partition(":")
                user, pw = user or u, pw if pw is not None else p
            except Exception:
                pass
        return user or "default", pw or ""

    # -- verbs ------------------------------------------------------------
    def do_HEAD(self):
        self.do_GET()

    def do_GET(self):
        self.handle_query(readonly=True)

    def do_POST(self):
        self.handle_query(readonly=False)

    def handle_query(self, readonly):
        url = urlsplit(self.path)
        pairs = parse_qsl(url.query, keep_blank_values=True)
        params = dict(pairs)
        query_id = params.get("query_id") or str(uuid.uuid4())

        if url.path in ("/ping", "/replicas_status") and self.command in ("GET", "HEAD"):
            return self.send(200, "Ok.\n")
        if url.path not in ("/", ""):
            return self.send(404, "There is no handle %s\n\nUse / or /ping for health checks.\n" % url.path)

        try:
            body = b"" if readonly else self.read_body()
        except Exception as exc:
            return self.send_exception(str(exc), query_id, code=self.server.engine.code_of.get("BAD_ARGUMENTS", 36))

        q_param = params.get("query", "")
        if not q_param and not body:
            if self.command in ("GET", "HEAD"):
                return self.send(200, "Ok.\n")
            return self.send_exception("Empty query. (SYNTAX_ERROR)", query_id,
                                       code=self.server.engine.code_of.get("SYNTAX_ERROR", 62))
        sql = (q_param + "\n" if q_param else "") + body.decode("utf-8", "replace")

        # authentication (only when the fixture was given a password)
        user, pw = self.credentials(params)
        if self.server.password is not None and (user != "default" or pw != self.server.password):
            code = self.server.engine.code_of.get("AUTHENTICATION_FAILED", 516)
            return self.send_exception(
                "Code: %d. DB::Exception: %s: Authentication failed: password is incorrect, "
                "or there is no user with such name. (AUTHENTICATION_FAILED)" % (code, user),
                query_id, code=code)

        if params.get("decompress") in ("1", "true") or params.get("compress") in ("1", "true"):
            code = self.server.engine.code_of.get("NOT_IMPLEMENTED", 48)
            return self.send_exception(
                "Code: %d. DB::Exception: %s does not implement compress/decompress. (NOT_IMPLEMENTED)"
                % (code, FIXTURE_NAME), query_id, code=code)

        settings = []
        qparams = {}
        for k, v in pairs:
            if k.startswith("param_"):
                qparams[k[6:]] = v
            elif k == "readonly":
                if v not in ("", "0"):
                    readonly = True
            elif k not in RESERVED_PARAMS:
                if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", k):
                    code = self.server.engine.code_of.get("UNKNOWN_SETTING", 115)
                    return self.send_exception(
                        "Code: %d. DB::Exception: Unknown setting '%s'. (UNKNOWN_SETTING)" % (code, k),
                        query_id, code=code)
                settings.append((k, v))

        head = strip_leading_comments(sql).upper()
        if readonly and re.match(r"(%s)\b" % "|".join(MODIFYING_VERBS), head):
            code = self.server.engine.code_of.get("READONLY", 164)
            return self.send_exception(
                "Code: %d. DB::Exception: Cannot execute query in readonly mode. For queries over "
                "HTTP, method GET implies readonly. You should use method POST for modifying "
                "queries. (READONLY)" % code, query_id, code=code)

        fmt = params.get("default_format") or "TabSeparated"
        m = FORMAT_CLAUSE.search(sql)
        shown_fmt = m.group(1) if m and not head.startswith("INSERT") else fmt
        try:
            out, stats = self.server.engine.run(sql, fmt, params.get("database"), settings, qparams)
        except Exception as exc:  # chdb.ChdbError and friends
            return self.send_exception(str(exc), query_id)
        self.send(200, out, {
            "Content-Type": CONTENT_TYPES.get(shown_fmt, "text/plain; charset=UTF-8"),
            "X-ClickHouse-Query-Id": query_id,
            "X-ClickHouse-Format": shown_fmt,
            "X-ClickHouse-Timezone": os.environ.get("TZ", "UTC"),
            "X-ClickHouse-Server-Display-Name": FIXTURE_NAME,
            "X-ClickHouse-Summary": json.dumps(stats, separators=(",", ":")),
        })


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=18123)
    ap.add_argument("--path", required=True, help="chdb data directory")
    ap.add_argument("--password", default=None,
                    help="if set, require user 'default' with this password")
    ap.add_argument("--verbose", action="store_true")
    args = ap.parse_args()
    if args.host not in ("127.0.0.1", "localhost", "::1"):
        sys.exit("refusing to bind to a non-loopback address: %s" % args.host)

    os.makedirs(args.path, exist_ok=True)
    engine = Engine(args.path)
    srv = ThreadingHTTPServer((args.host, args.port), Handler)
    srv.daemon_threads = True
    srv.engine = engine
    srv.password = args.password
    srv.verbose = args.verbose
    log("%s: chdb %s (ClickHouse %s) on http://%s:%d, data %s"
        % (FIXTURE_NAME, chdb.__version__, engine.version, args.host, args.port, args.path))
    def on_term(signum, frame):
        raise SystemExit(0)

    signal.signal(signal.SIGTERM, on_term)
    try:
        srv.serve_forever()
    except (KeyboardInterrupt, SystemExit):
        pass
    finally:
        srv.server_close()
        try:
            engine.sess.close()
        except Exception:
            pass


if __name__ == "__main__":
    main()
