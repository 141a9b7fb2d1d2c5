"""``omnimotion view RUN_DIR``: a local web page to click points on the video and see their tracks.

RUN_DIR is the output folder of ``omnimotion run`` or any data directory with a checkpoint under ``out/``.
The page is served from this machine only (127.0.0.1) unless ``--host`` says otherwise; Ctrl-C stops it.
"""

from __future__ import annotations

import argparse
import logging
import webbrowser
from pathlib import Path

from omnimotion.cli.main import HelpFormatter, UserError
from omnimotion.cli.track import newest_checkpoint
from omnimotion.io.datadir import DataDir
from omnimotion.track import FLOW_EVIDENCE_MODES
from omnimotion.track.tracker import DEFAULT_CHUNK_SIZE
from omnimotion.view import ViewSession, make_server
from omnimotion.view.server import is_loopback
from omnimotion.view.session import SURFACE_CHUNK_SIZE

__all__ = ["add_parser", "run"]

log = logging.getLogger(__name__)


def add_parser(subparsers, name: str) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(
        name, help="explore the tracks of a trained run in the browser (click points, drag regions, export)",
        description="Serve a local web page showing the run's video: click a pixel on any frame to see its "
                    "track through the whole video, drag a rectangle for the tracks of a region, export them "
                    "as CSV/JSON/npz (as 'omnimotion track') or an mp4.",
        formatter_class=HelpFormatter)
    parser.add_argument("run_dir", help="output folder of 'omnimotion run', or a data directory with out/*/model_*.pth")
    parser.add_argument("--checkpoint", default=None,
                        help="model checkpoint; default: the newest RUN_DIR/out/*/model_*.pth")
    parser.add_argument("--host", default="127.0.0.1",
                        help="address to serve on; anything but a loopback address lets other machines in")
    parser.add_argument("--port", type=int, default=0, help="port to serve on (0: a free one, printed)")
    parser.add_argument("--no_browser", action="store_true", help="only print the address, open no browser")
    parser.add_argument("--flow_evidence", default=None, choices=FLOW_EVIDENCE_MODES,
                        help="correct tracks with RUN_DIR's flows, as 'omnimotion track --flow_evidence' "
                             "(default: the checkpoint's mode)")
    parser.add_argument("--occlusion_th", type=float, default=None,
                        help="occluded iff the occlusion score exceeds this; default: the model's (0.99)")
    parser.add_argument("--device", default="auto", help="auto, cpu or cuda")
    parser.add_argument("--chunk_size", type=int, default=None,
                        help=f"(point, frame) pairs per model call; lower it if memory runs out (default: "
                             f"{SURFACE_CHUNK_SIZE} for the surface model, {DEFAULT_CHUNK_SIZE} for the faithful one)")
    return parser


def run(args: argparse.Namespace) -> int:
    data = DataDir(args.run_dir)
    checkpoint = Path(args.checkpoint) if args.checkpoint else newest_checkpoint(data.root)
    session = ViewSession.open(data.root, checkpoint, device=args.device, flow_evidence=args.flow_evidence,
                               occlusion_th=args.occlusion_th, chunk_size=args.chunk_size)
    if not is_loopback(args.host):
        log.warning("serving on %s: anyone who can reach this machine can see the run's frames and use its "
                    "model; use the default 127.0.0.1 unless you mean that", args.host)
    try:
        server = make_server(session, args.host, args.port)
    except OSError as err:
        raise UserError(f"cannot serve on {args.host}:{args.port} ({err.strerror or err}); choose another --port, "
                        "or 0 for a free one") from None
    print(f"omnimotion view: {data.root} with {checkpoint.name} at {server.url} (Ctrl-C to stop)", flush=True)
    if not args.no_browser:
        webbrowser.open(server.url)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        log.info("stopped")
    finally:
        server.server_close()
    return 0
