"""The viewer's HTTP server: the page, its assets, the run's frames and a small JSON API over ``ViewSession``.

Built on the standard library's ``ThreadingHTTPServer``: the viewer serves one person on their own machine, a
handful of routes and no templates or sessions, so a framework would add a dependency without removing any
code here (the work is the model's, not the server's). One thread per request keeps frames flowing while a
region is being tracked; the session serialises model calls.

Routes (everything else is 404)
    GET  /                      the page (``static/index.html``)
    GET  /static/NAME           a file shipped in ``omnimotion/view/static`` (listed at start-up, by name only)
    GET  /frames/N              frame N of the run's ``color/`` folder, as stored
    GET  /depth/N               the model's pseudo-depth of frame N, PNG (when the model has depth)
    GET  /api/info              the run: name, frames, size, fps, depth, flow evidence mode
    POST /api/warm              read the flow files a click on a frame needs, in the background (202)
    POST /api/track             tracks of clicked points (bodies: ``omnimotion.view.requests``)
    POST /api/region            NDJSON stream: ``{"done", "total"}`` lines, then ``{"queries", "tracks",
                                "occluded"}`` (or ``{"error"}``)
    POST /api/export            the tracks as the csv/json/npz file ``omnimotion track`` writes
    POST /api/video             an mp4 of the tracks as shown

Safety: only the files above can be read (static names from a fixed list, frames by index), so ``../``,
absolute and percent-encoded paths find nothing; POST bodies must be JSON of at most ``MAX_BODY_BYTES``
(a foreign web page cannot send that without the browser asking first, and we never say yes); on a loopback
address the ``Host`` header must name it too (no DNS rebinding). A failing request gets a 4xx/5xx answer and
the server goes on.

Positions in JSON answers are rounded to ``WIRE_DECIMALS`` (display only; exports come from the full values).
"""

from __future__ import annotations

import ipaddress
import json
import logging
import re
import socket
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib import resources
from urllib.parse import urlsplit

import cv2
import numpy as np

from omnimotion.track.queries import QueryError
from omnimotion.track.tracks import Tracks
from omnimotion.view.requests import (MAX_BODY_BYTES, MAX_REGION_SIDE, BadRequest, bool_field, box_field,
                                      choice_field, colors_field, int_field, parse_body, queries_field)
from omnimotion.view.session import EXPORT_FORMATS, ViewSession

__all__ = ["ViewerServer", "ViewerHandler", "make_server", "is_loopback", "static_files", "WIRE_DECIMALS"]

log = logging.getLogger(__name__)

WIRE_DECIMALS = 3
_STATIC_NAME = re.compile(r"^[A-Za-z0-9_-]+\.(html|js|css|png|svg|ico)$")
_CONTENT_TYPES = {".html": "text/html; charset=utf-8", ".js": "text/javascript; charset=utf-8",
                  ".css": "text/css; charset=utf-8", ".png": "image/png", ".svg": "image/svg+xml",
                  ".ico": "image/x-icon", ".jpg": "image/jpeg", ".jpeg": "image/jpeg"}
_EXPORT_TYPES = {"csv": "text/csv; charset=utf-8", "json": "application/json", "npz": "application/octet-stream"}
_FRAME_ROUTE = re.compile(r"^/(frames|depth)/(\d{1,7})$")


def static_files() -> dict[str, bytes]:
    """The page's assets shipped in ``omnimotion/view/static``, by file name."""
    folder = resources.files("omnimotion.view") / "static"
    return {item.name: item.read_bytes() for item in folder.iterdir()
            if item.is_file() and _STATIC_NAME.match(item.name)}


def is_loopback(host: str) -> bool:
    """True for 127.0.0.0/8, ::1 and ``localhost``."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class ViewerServer(ThreadingHTTPServer):
    """A threading HTTP server holding the ``ViewSession`` and the static files its handlers serve."""

    daemon_threads = True

    def __init__(self, address: tuple[str, int], session: ViewSession):
        host = address[0]
        self.address_family = socket.AF_INET6 if ":" in host else socket.AF_INET
        super().__init__(address, ViewerHandler)
        self.session = session
        self.static = static_files()
        self.loopback_only = is_loopback(host)

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        return f"http://[{host}]:{port}/" if ":" in host else f"http://{host}:{port}/"


def make_server(session: ViewSession, host: str = "127.0.0.1", port: int = 0) -> ViewerServer:
    """A ``ViewerServer`` bound to ``host:port`` (port 0: one the system picks); call ``serve_forever``."""
    return ViewerServer((host, port), session)


class ViewerHandler(BaseHTTPRequestHandler):
    """One request: route it, answer it, and turn every failure into an HTTP error answer."""

    server: ViewerServer
    server_version = "omnimotion-view"
    timeout = 60  # seconds a client may take to send its request

    def do_GET(self) -> None:
        self._answer(self._get)

    def do_POST(self) -> None:
        self._answer(self._post)

    def log_message(self, format: str, *args) -> None:
        log.debug("%s %s", self.address_string(), format % args)

    # ----- dispatch -------------------------------------------------------------------------------------
    def _answer(self, route) -> None:
        try:
            if not self._host_allowed():
                self._send_json(HTTPStatus.FORBIDDEN, {"error": "unexpected Host header; open the address "
                                                                 "'omnimotion view' printed"})
                return
            route(urlsplit(self.path).path)
        except (BadRequest, QueryError) as err:
            self._send_json(HTTPStatus.BAD_REQUEST, {"error": str(err)})
        except (BrokenPipeError, ConnectionResetError):
            log.debug("client closed the connection during %s", self.path)
        except Exception as err:  # one failing request must not stop the server
            log.exception("request %s %s failed", self.command, self.path)
            self._send_json(HTTPStatus.INTERNAL_SERVER_ERROR, {"error": f"{type(err).__name__}: {err}"})

    def _host_allowed(self) -> bool:
        if not self.server.loopback_only:
            return True
        host = (self.headers.get("Host") or "").rsplit(":", 1)[0].strip("[]")
        return not host or is_loopback(host)  # browsers always send Host; rebinding attacks come from them

    def _get(self, path: str) -> None:
        session = self.server.session
        if path in ("/", "/index.html"):
            self._send_static("index.html")
        elif path.startswith("/static/") and path[len("/static/"):] in self.server.static:
            self._send_static(path[len("/static/"):])
        elif path == "/api/info":
            self._send_json(HTTPStatus.OK, session.info())
        elif (match := _FRAME_ROUTE.match(path)) and int(match.group(2)) < session.num_frames:
            kind, index = match.group(1), int(match.group(2))
            if kind == "frames":
                frame = session.frame_file(index)
                self._send_bytes(HTTPStatus.OK, frame.read_bytes(), _CONTENT_TYPES[frame.suffix.lower()])
            elif session.has_depth:
                ok, png = cv2.imencode(".png", session.depth_frames()[index][..., ::-1])
                self._send_bytes(HTTPStatus.OK, png.tobytes(), "image/png")
            else:
                self._not_found()
        else:
            self._not_found()

    def _post(self, path: str) -> None:
        handlers = {"/api/warm": self._warm, "/api/track": self._track, "/api/region": self._region,
                    "/api/export": self._export, "/api/video": self._video}
        if path not in handlers:
            self._not_found()
            return
        handlers[path](self._read_json())

    # ----- API --------------------------------------------------------------------------------------------
    def _warm(self, payload: dict) -> None:
        session = self.server.session
        frame = int_field(payload, "frame", 0, session.num_frames - 1)
        self._send_json(HTTPStatus.ACCEPTED, {"frame": frame, "started": session.warm(frame) is not None})

    def _track(self, payload: dict) -> None:
        tracks = self.server.session.track(queries_field(payload))
        self._send_json(HTTPStatus.OK, _wire_tracks(tracks))

    def _region(self, payload: dict) -> None:
        session = self.server.session
        frame = int_field(payload, "frame", 0, session.num_frames - 1)
        side = int_field(payload, "side", 1, MAX_REGION_SIDE, default=64)
        queries = session.region_queries(frame, box_field(payload), side)
        self.send_response(HTTPStatus.OK)
        self.send_header("Content-Type", "application/x-ndjson")
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        self._write_line({"done": 0, "total": len(queries)})
        try:
            tracks = session.track(queries, lambda done, total: self._write_line({"done": done, "total": total}))
        except (BrokenPipeError, ConnectionResetError):
            raise
        except Exception as err:  # the status line is sent: report in the stream
            log.exception("tracking a region failed")
            self._write_line({"error": f"{type(err).__name__}: {err}"})
            return
        self._write_line(_wire_tracks(tracks))

    def _export(self, payload: dict) -> None:
        fmt = choice_field(payload, "format", EXPORT_FORMATS)
        session = self.server.session
        content = session.export(queries_field(payload), fmt)
        name = f"{session.info()['name']}_tracks.{fmt}"
        self._send_bytes(HTTPStatus.OK, content, _EXPORT_TYPES[fmt], attachment=name)

    def _video(self, payload: dict) -> None:
        session = self.server.session
        queries = queries_field(payload)
        background = choice_field(payload, "background", ("frames", "depth") if session.has_depth else ("frames",),
                                  default="frames")
        content = session.video(queries, colors_field(payload, len(queries)),
                                int_field(payload, "trail_length", 0, session.num_frames, default=10),
                                bool_field(payload, "show_occluded", True), background)
        self._send_bytes(HTTPStatus.OK, content, "video/mp4", attachment=f"{session.info()['name']}_tracks.mp4")

    # ----- reading and writing -------------------------------------------------------------------------
    def _read_json(self) -> dict:
        content_type = (self.headers.get("Content-Type") or "").split(";")[0].strip().lower()
        if content_type != "application/json":
            raise BadRequest("send the body as JSON with 'Content-Type: application/json'")
        length = self.headers.get("Content-Length")
        if length is None or not length.isdigit():
            raise BadRequest("the request needs a Content-Length header")
        if int(length) > MAX_BODY_BYTES:
            raise BadRequest(f"the body is {int(length)} bytes; at most {MAX_BODY_BYTES} are accepted")
        body = self.rfile.read(int(length))
        if len(body) != int(length):
            raise BadRequest(f"the body ended after {len(body)} of the {length} bytes announced")
        return parse_body(body)

    def _send_static(self, name: str) -> None:
        suffix = name[name.rfind("."):].lower()
        self._send_bytes(HTTPStatus.OK, self.server.static[name], _CONTENT_TYPES[suffix])

    def _not_found(self) -> None:
        self._send_json(HTTPStatus.NOT_FOUND, {"error": f"nothing at {self.path[:200]!r}"})

    def _send_json(self, status: HTTPStatus, data: dict) -> None:
        self._send_bytes(status, json.dumps(data).encode(), "application/json")

    def _send_bytes(self, status: HTTPStatus, content: bytes, content_type: str, attachment: str | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(content)))
        self.send_header("Cache-Control", "no-store")
        self.send_header("X-Content-Type-Options", "nosniff")
        if attachment:
            self.send_header("Content-Disposition", f'attachment; filename="{attachment}"')
        self.end_headers()
        self.wfile.write(content)

    def _write_line(self, data: dict) -> None:
        self.wfile.write(json.dumps(data).encode() + b"\n")
        self.wfile.flush()


def _wire_tracks(tracks: Tracks) -> dict:
    """Tracks as JSON lists: ``queries [N][3]``, ``tracks [N][T][2]`` rounded, ``occluded [N][T]`` 0/1."""
    return {"queries": tracks.queries.tolist(),
            "tracks": np.round(tracks.tracks.astype(np.float64), WIRE_DECIMALS).tolist(),
            "occluded": tracks.occluded.astype(np.uint8).tolist()}
