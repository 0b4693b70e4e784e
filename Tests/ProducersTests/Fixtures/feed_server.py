#!/usr/bin/env python3
"""A real, misbehaving WebSocket server for cdcctl's live trade feeds (tests only).

Speaks Upbit's or KIS's framing (frames from a sample file, one per line, written from the
documented formats) over TLS (`--cert/--key`, a throw-away CA made by the test) or plain ws, and
misbehaves on cue:
  --refuse-first N      answer the first N upgrade requests with HTTP 429
  --drop-after N        abort the TCP connection (no close frame) after the N-th frame of a
                        connection, on the first --drops connections
  --repeat K            on a reconnect, send again the last K frames sent before (duplicates)
  --duplicate-every M   send every M-th frame twice in a row
  --malformed-at N      send a malformed frame after the N-th frame (once)
  --idle-after N        after the N-th frame (once) send nothing for --idle-seconds
  --idle-timeout S      close a connection that sent us nothing (no ping, no message) for S s,
                        as Upbit does after ~120 s
  --pingpong-every S    KIS: send a PINGPONG frame every S s and expect it echoed
KIS: an approval-key endpoint (POST /oauth2/Approval) on a plain HTTP port; subscriptions must
carry the approval key it handed out. GET /stats on the same port reports what happened.
Prints `READY <ws port> <http port>` on stdout once listening on 127.0.0.1 (ports chosen by the OS).
"""
import argparse
import asyncio
import http.server
import json
import ssl
import sys
import threading
import time
from http import HTTPStatus

from websockets.asyncio.server import ServerConnection, serve
from websockets.frames import Opcode

p = argparse.ArgumentParser()
p.add_argument("--kind", choices=["upbit", "kis"], required=True)
p.add_argument("--frames", required=True)
p.add_argument("--cert")
p.add_argument("--key")
p.add_argument("--refuse-first", type=int, default=0)
p.add_argument("--drop-after", type=int, default=0)
p.add_argument("--drops", type=int, default=1)
p.add_argument("--repeat", type=int, default=0)
p.add_argument("--duplicate-every", type=int, default=0)
p.add_argument("--malformed-at", type=int, default=0)
p.add_argument("--idle-after", type=int, default=0)
p.add_argument("--idle-seconds", type=float, default=0)
p.add_argument("--idle-timeout", type=float, default=0)
p.add_argument("--pingpong-every", type=float, default=0)
p.add_argument("--subscriptions", type=int, default=1, help="KIS: subscription messages expected (one per symbol)")
p.add_argument("--interval", type=float, default=0.002, help="seconds between frames")
p.add_argument("--app-key", default="test-app-key")
p.add_argument("--app-secret", default="test-app-secret")
args = p.parse_args()

FRAMES = [line.rstrip("\n") for line in open(args.frames, encoding="utf-8") if line.strip()]
APPROVAL_KEY = "approval-" + str(int(time.time()))
stats = {
    "upgrade_requests": 0, "refused_429": 0, "connections": 0, "drops": 0, "origin_headers": 0,
    "client_pings": 0, "idle_closes": 0, "subscriptions": [], "bad_subscriptions": 0,
    "pingpongs_sent": 0, "pingpongs_echoed": 0, "approvals": 0, "frames_sent": 0, "malformed_sent": 0,
    "repeated": 0, "idle_periods": 0,
}
state = {"cursor": 0, "sent_log": [], "malformed_done": False, "idle_done": False}


class Conn(ServerConnection):
    """Notes every frame the client sends (pings included) for the idle rule."""

    def process_event(self, event):
        if self.request is not None:
            self.last_heard = time.monotonic()
            if getattr(event, "opcode", None) is Opcode.PING:
                stats["client_pings"] += 1
        super().process_event(event)


def process_request(connection, request):
    stats["upgrade_requests"] += 1
    if "Origin" in request.headers:
        stats["origin_headers"] += 1
    if stats["upgrade_requests"] <= args.refuse_first:
        stats["refused_429"] += 1
        return connection.respond(HTTPStatus.TOO_MANY_REQUESTS, "Too Many Requests\n")
    return None


async def watch_idle(ws):
    while True:
        await asyncio.sleep(0.1)
        if time.monotonic() - ws.last_heard > args.idle_timeout:
            stats["idle_closes"] += 1
            await ws.close(1000, "idle")
            return


async def pingpong(ws):
    while True:
        await asyncio.sleep(args.pingpong_every)
        stats["pingpongs_sent"] += 1
        await ws.send(json.dumps({"header": {"tr_id": "PINGPONG", "datetime": time.strftime("%Y%m%d%H%M%S")}}))


async def handler(ws):
    ws.last_heard = time.monotonic()
    stats["connections"] += 1
    number = stats["connections"]
    tasks = []
    if args.idle_timeout > 0:
        tasks.append(asyncio.create_task(watch_idle(ws)))
    try:
        # Subscription first.
        if args.kind == "upbit":
            sub = json.loads(await ws.recv())
            codes = next((x.get("codes") for x in sub if x.get("type") == "trade"), None)
            if not (isinstance(sub, list) and sub and "ticket" in sub[0] and codes):
                stats["bad_subscriptions"] += 1
                await ws.send(json.dumps({"error": {"name": "INVALID_PARAM", "message": "bad subscription"}}))
                return
            stats["subscriptions"].append(codes)
        else:
            for _ in range(args.subscriptions):
                sub = json.loads(await ws.recv())
                hdr, body = sub.get("header", {}), sub.get("body", {}).get("input", {})
                if hdr.get("approval_key") != APPROVAL_KEY or body.get("tr_id") != "H0STCNT0":
                    stats["bad_subscriptions"] += 1
                    await ws.send(json.dumps({"header": {"tr_id": body.get("tr_id", "")},
                                              "body": {"rt_cd": "1", "msg_cd": "OPSP0011", "msg1": "invalid approval"}}))
                    return
                stats["subscriptions"].append(body.get("tr_key"))
                await ws.send(json.dumps({"header": {"tr_id": "H0STCNT0", "tr_key": body.get("tr_key"), "encrypt": "N"},
                                          "body": {"rt_cd": "0", "msg_cd": "OPSP0000", "msg1": "SUBSCRIBE SUCCESS"}}))
            if args.pingpong_every > 0:
                tasks.append(asyncio.create_task(pingpong(ws)))
        if number > 1 and args.repeat > 0:
            for frame in state["sent_log"][-args.repeat:]:
                stats["repeated"] += 1
                await ws.send(frame)
        sent_here = 0
        while True:
            if state["cursor"] >= len(FRAMES):
                # Everything sent: stay connected (status frames only), as a quiet market does.
                msg = await recv_or_none(ws, 1.0)
                if msg is not None:
                    note_reply(msg)
                continue
            frame = FRAMES[state["cursor"]]
            state["cursor"] += 1
            await ws.send(frame)
            state["sent_log"].append(frame)
            stats["frames_sent"] += 1
            sent_here += 1
            if args.duplicate_every and stats["frames_sent"] % args.duplicate_every == 0:
                stats["repeated"] += 1
                await ws.send(frame)
            if args.malformed_at and stats["frames_sent"] == args.malformed_at and not state["malformed_done"]:
                state["malformed_done"] = True
                stats["malformed_sent"] += 1
                await ws.send('{"type":"trade","code":"KRW-BTC","trade_price":' if args.kind == "upbit" else "0|H0STCNT0|002|005930^1^2")
            if args.idle_after and stats["frames_sent"] == args.idle_after and not state["idle_done"]:
                state["idle_done"] = True
                stats["idle_periods"] += 1
                end = time.monotonic() + args.idle_seconds
                while time.monotonic() < end:
                    msg = await recv_or_none(ws, end - time.monotonic())
                    if msg is not None:
                        note_reply(msg)
            if args.drop_after and sent_here == args.drop_after and stats["drops"] < args.drops:
                stats["drops"] += 1
                ws.transport.abort()  # no close frame: a dropped connection
                return
            if args.interval > 0 or sent_here % 200 == 0:  # --interval 0: as fast as it can (benchmarks)
                msg = await recv_or_none(ws, args.interval)
                if msg is not None:
                    note_reply(msg)
    except Exception:
        pass
    finally:
        for t in tasks:
            t.cancel()


def note_reply(msg):
    try:
        obj = json.loads(msg)
    except ValueError:
        return
    if isinstance(obj, dict) and obj.get("header", {}).get("tr_id") == "PINGPONG":
        stats["pingpongs_echoed"] += 1


async def recv_or_none(ws, seconds):
    try:
        return await asyncio.wait_for(ws.recv(), timeout=max(0.0, seconds))
    except asyncio.TimeoutError:
        return None


class Approval(http.server.BaseHTTPRequestHandler):
    def log_message(self, *a):
        pass

    def reply(self, status, obj):
        data = json.dumps(obj).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", "0") or 0))
        try:
            req = json.loads(body)
        except ValueError:
            req = {}
        if self.path != "/oauth2/Approval":
            return self.reply(404, {"error": "not found"})
        if req.get("grant_type") == "client_credentials" and req.get("appkey") == args.app_key and req.get("secretkey") == args.app_secret:
            stats["approvals"] += 1
            return self.reply(200, {"approval_key": APPROVAL_KEY})
        return self.reply(403, {"error_code": "EGW00105", "error_description": "invalid appkey or secretkey"})

    def do_GET(self):
        self.reply(200, stats if self.path == "/stats" else {"error": "not found"})


async def main():
    context = None
    if args.cert:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(args.cert, args.key)
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Approval)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    async with serve(handler, "127.0.0.1", 0, ssl=context, process_request=process_request, create_connection=Conn,
                     ping_interval=None, max_size=2**20) as server:
        port = server.sockets[0].getsockname()[1]
        print(f"READY {port} {httpd.server_address[1]}", flush=True)
        # Stops by itself: tests are bounded in time.
        await asyncio.sleep(600)


asyncio.run(main())
