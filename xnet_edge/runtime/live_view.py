"""A live view for a robot without a screen: the input beside its colour depth, in a web page and as MJPEG.

``xnet-edge infer ... --serve 8080`` (or ``xnet-edge ros2 ... --serve 8080``) serves, while
inference runs:

* ``/`` — a page with the frames and the run's figures (frames, FPS, latency); it long-polls
  ``/frame.jpg?after=N``, which answers with the first frame newer than N (``X-Frame`` header);
* ``/stream.mjpg`` — MJPEG (``multipart/x-mixed-replace`` JPEG frames) for VLC, ffplay, OpenCV's
  ``VideoCapture`` or a browser's address bar;
* ``/frame.jpg`` — the latest frame; ``/stats.json`` — the figures.

Only the standard library and OpenCV: no extra package on the robot. Frames are encoded on the
HTTP threads, once per new frame and only while someone is watching, so an unwatched view costs
the inference loop nothing but keeping a reference to the latest result. Binds to 127.0.0.1
unless told otherwise (reach it through ``ssh -L 8080:localhost:8080 robot``).
"""

from __future__ import annotations

import json
import re
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Optional

import numpy as np

from .._deps import require
from ..errors import UsageError, XnetEdgeError

BOUNDARY = "xnet-edge-frame"
_PAGE = """<!doctype html>
<html><head><meta charset="utf-8"><title>xnet-edge live view</title>
<style>body{{margin:0;background:#111;color:#ddd;font:14px sans-serif}}
header{{padding:8px 12px}}img{{display:block;max-width:100%;margin:0 auto}}</style>
</head><body><header><b>xnet-edge</b> &middot; {title} &middot; <span id="s">waiting for frames</span></header>
<img id="v" src="/frame.jpg" alt="">
<script>
const pause = ms => new Promise(r => setTimeout(r, ms));
async function frames() {{  // long-polls /frame.jpg: works in every browser, MJPEG or not
  let n = 0;
  for (;;) {{
    try {{
      const r = await fetch('/frame.jpg?after=' + n, {{cache: 'no-store'}});
      if (r.status !== 200) {{ await pause(500); continue; }}
      n = +r.headers.get('X-Frame');
      const img = document.getElementById('v'), old = img.src;
      img.src = URL.createObjectURL(await r.blob());
      if (old.startsWith('blob:')) URL.revokeObjectURL(old);
    }} catch (e) {{ await pause(1000); }}
  }}
}}
async function stats() {{
  try {{
    const s = await (await fetch('/stats.json')).json();
    document.getElementById('s').textContent = `frame ${{s.frames}} · ${{s.fps.toFixed(1)}} FPS · ` +
      (s.latency_ms === null ? '' : `latency ${{s.latency_ms.toFixed(0)}} ms · `) + s.source;
  }} catch (e) {{}}
}}
frames(); setInterval(stats, 1000); stats();
</script>
</body></html>
"""


class _Server(ThreadingHTTPServer):
    def handle_error(self, request, client_address) -> None:
        # A viewer that goes away mid-reply is normal; anything else is one line, not a traceback.
        import sys

        exc = sys.exc_info()[1]
        if not isinstance(exc, OSError):
            print(f"live view: request from {client_address[0]} failed: {exc!r}", file=sys.stderr)


def parse_address(text: str, default_host: str = "127.0.0.1") -> tuple[str, int]:
    """``"8080"`` -> ("127.0.0.1", 8080); ``"0.0.0.0:8080"`` -> ("0.0.0.0", 8080); port 0 picks a free one.

    Raises:
        UsageError: not ``[HOST:]PORT`` with a port in 0..65535.
    """
    m = re.fullmatch(r"(?:(\[[^\]]+\]|[^:]+):)?(\d+)", str(text).strip())
    if not m or int(m.group(2)) > 65535:
        raise UsageError(f"bad --serve {text!r}: expected [HOST:]PORT, e.g. 8080 or 0.0.0.0:8080")
    return (m.group(1) or default_host).strip("[]"), int(m.group(2))


class LiveView:
    """Serves the latest result of a run over HTTP; a result sink for :func:`~xnet_edge.runtime.infer`.

    The server starts listening when the object is created (so a busy port is reported before
    the model loads) and stops when it is closed or its ``with`` block ends; open streams are
    ended and their threads joined.

    Args:
        address: ``[HOST:]PORT`` (or a (host, port) tuple); port 0 picks a free port.
        title: shown on the page (e.g. the model and the input).
        colormap: matplotlib colormap for depth.
        depth_range: fixed (near, far) metres; per-frame percentiles when None.
        jpeg_quality: 1..100.

    Attributes:
        host, port: where it listens; url: its address.

    Raises:
        UsageError: a bad address or colormap.
        XnetEdgeError: the port cannot be bound (in use, no permission).
    """

    def __init__(self, address: Any = "127.0.0.1:8080", title: str = "", colormap: str = "turbo",
                 depth_range: Optional[tuple[float, float]] = None, jpeg_quality: int = 80):
        from .outputs import colorize

        host, port = parse_address(address) if isinstance(address, (str, int)) else address
        require("cv2")
        colorize(np.ones((1, 1), np.float32), colormap)  # a bad colormap fails now; matplotlib loads once, here
        self.title, self.colormap, self.depth_range, self.quality = title, colormap, depth_range, int(jpeg_quality)
        self._cond = threading.Condition()
        self._latest: Optional[tuple[Optional[np.ndarray], np.ndarray]] = None
        self._seq, self._jpeg, self._jpeg_seq = 0, b"", -1
        self._stopping = False
        self.viewers = 0
        self.stats = {"frames": 0, "fps": 0.0, "latency_ms": None, "source": ""}
        self._t0: Optional[float] = None
        try:
            self._server = _Server((host, port), _handler_for(self))
        except OSError as exc:
            raise XnetEdgeError(f"cannot serve the live view on {host}:{port}: {exc.strerror or exc}") from None
        self._server.daemon_threads = False
        self._server.block_on_close = True  # close() joins the request threads
        self.host, self.port = self._server.server_address[:2]
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.1},
                                        name="xnet-edge-live-view", daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}/"

    # -------------------------------------------------------------- producer side

    def write(self, frame, result: np.ndarray) -> None:
        """Show a new result (called by :func:`~xnet_edge.runtime.infer` on its writer thread)."""
        self.show(getattr(frame, "image", None), result, getattr(frame, "source", ""))

    def show(self, image: Optional[np.ndarray], result: np.ndarray, source: str = "",
             latency_s: Optional[float] = None) -> None:
        """Publish ``result`` (depth in metres or int labels) with the ``image`` it came from."""
        now = time.perf_counter()
        with self._cond:
            self._t0 = self._t0 or now
            self._latest = (image, result)
            self._seq += 1
            elapsed = now - self._t0
            self.stats.update(frames=self._seq, source=str(source),
                              fps=(self._seq - 1) / elapsed if elapsed > 0 else 0.0)
            if latency_s is not None:
                self.stats["latency_ms"] = 1000.0 * latency_s
            self._cond.notify_all()

    # -------------------------------------------------------------- HTTP side

    def _picture(self, image, result) -> np.ndarray:
        from .outputs import colorize, side_by_side

        if np.issubdtype(result.dtype, np.integer):
            lut = np.random.default_rng(0).integers(40, 256, size=(int(result.max(initial=0)) + 1, 3), dtype=np.uint8)
            color = lut[np.clip(result, 0, None)]
        else:
            color = colorize(result, self.colormap, self.depth_range)
        return side_by_side(image, color) if image is not None else color

    def jpeg(self) -> tuple[int, bytes]:
        """(sequence number, JPEG bytes) of the latest frame, encoded once per frame."""
        with self._cond:
            seq, latest = self._seq, self._latest
            if seq == self._jpeg_seq or latest is None:
                return self._jpeg_seq, self._jpeg
        cv2 = require("cv2")
        ok, buf = cv2.imencode(".jpg", cv2.cvtColor(self._picture(*latest), cv2.COLOR_RGB2BGR),
                               [cv2.IMWRITE_JPEG_QUALITY, self.quality])
        if not ok:
            raise XnetEdgeError("JPEG encoding failed")
        with self._cond:
            if seq > self._jpeg_seq:
                self._jpeg_seq, self._jpeg = seq, buf.tobytes()
            return self._jpeg_seq, self._jpeg

    def wait_frame(self, after: int, timeout: float = 0.5) -> Optional[int]:
        """Block until a frame newer than ``after`` exists; its sequence number, or None on timeout/stop."""
        with self._cond:
            self._cond.wait_for(lambda: self._seq > after or self._stopping, timeout)
            return None if self._stopping or self._seq <= after else self._seq

    @property
    def stopping(self) -> bool:
        return self._stopping

    def page(self) -> bytes:
        import html

        return _PAGE.format(title=html.escape(self.title or "live view")).encode()

    # -------------------------------------------------------------- lifecycle

    def close(self) -> None:
        """Stop serving: end open streams, join their threads, release the port (idempotent)."""
        with self._cond:
            if self._stopping:
                return
            self._stopping = True
            self._cond.notify_all()
        self._server.shutdown()
        self._server.server_close()
        self._thread.join()

    def __enter__(self) -> "LiveView":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def _handler_for(view: LiveView):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        server_version = "xnet-edge"
        timeout = 5.0  # a viewer that stops reading cannot hold the server open

        def log_message(self, *args) -> None:  # no access log on the robot's console
            pass

        def _send(self, body: bytes, content_type: str) -> None:
            self.send_response(200)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Cache-Control", "no-store")
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self) -> None:  # noqa: N802 - the http.server API
            path, _, query = self.path.partition("?")
            if path == "/":
                self._send(view.page(), "text/html; charset=utf-8")
            elif path == "/stats.json":
                self._send(json.dumps(view.stats).encode(), "application/json")
            elif path == "/frame.jpg":
                self._frame(query)
            elif path == "/stream.mjpg":
                self._stream()
            else:
                self.send_error(404)

        def _frame(self, query: str) -> None:
            # ?after=N waits (up to 10 s) for a frame newer than N: the page's long poll
            m = re.search(r"(?:^|&)after=(\d+)", query)
            if view.wait_frame(int(m.group(1)) if m else 0, timeout=10.0) is None:
                self.send_response(204)
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            seq, data = view.jpeg()
            self.send_response(200)
            self.send_header("Content-Type", "image/jpeg")
            self.send_header("Content-Length", str(len(data)))
            self.send_header("Cache-Control", "no-store")
            self.send_header("X-Frame", str(seq))
            self.end_headers()
            self.wfile.write(data)

        def _stream(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", f"multipart/x-mixed-replace; boundary={BOUNDARY}")
            self.send_header("Cache-Control", "no-store")
            self.send_header("Connection", "close")
            self.end_headers()
            self.close_connection = True
            sent = 0
            with view._cond:
                view.viewers += 1
            try:
                # Each part is followed at once by the next boundary: browsers show a part only
                # when they see the boundary after it, and the next frame may be seconds away.
                self.wfile.write(f"--{BOUNDARY}\r\n".encode())
                while not view.stopping:
                    if view.wait_frame(sent) is None:
                        continue
                    sent, data = view.jpeg()
                    self.wfile.write(f"Content-Type: image/jpeg\r\nContent-Length: {len(data)}\r\n\r\n".encode()
                                     + data + f"\r\n--{BOUNDARY}\r\n".encode())
                    self.wfile.flush()
            except OSError:
                pass  # the viewer went away or stopped reading
            finally:
                with view._cond:
                    view.viewers -= 1

    return Handler
