"""The `volley` command line.

    volley process GAME.mp4 --out DIR   find the rallies, cut clips, a digest and a best reel
    volley sample GAME.mp4              render a synthetic game with known rallies
    volley evaluate RALLIES.json TRUTH.json   score found rallies against known ones
    volley serve [--host H] [--port P]  the web service on one machine (embedded by default)
    volley worker QUEUE...              a stage worker (vproc framer clipper pusher)
    volley token create USERNAME        print an API token (creates the user if needed)
    volley reconcile                    queue again what a dead worker or Redis lost
    volley manage ARGS...               Django's management commands (migrate, createsuperuser...)
    volley web                          the front under gunicorn (production)
    volley migrate                      bring the database schema up to date
    volley scaler                       size the processing pool from the database (Kubernetes)
    volley health                       exit 0 when this container's process is healthy

Bad input exits with status 2 and one line on stderr; an ffmpeg failure with 1.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from volley import __version__, defaults
from volley.exceptions import BadInput, VolleyError


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        return args.run(args)
    except BadInput as err:
        print(f"volley: {err}", file=sys.stderr)
        return 2
    except VolleyError as err:
        print(f"volley: {err}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("volley: interrupted", file=sys.stderr)
        return 130


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="volley", description="Volleyball rallies, clips and digests from game videos.")
    parser.add_argument("--version", action="version", version=f"volley {__version__}")
    commands = parser.add_subparsers(required=True, metavar="COMMAND")

    process = commands.add_parser("process", help="find the rallies in a game and cut clips")
    process.add_argument("game", type=Path, help="the game video (mp4, mov, mkv...)")
    process.add_argument("--out", type=Path, required=True, help="directory for rallies.json, track.json and videos")
    process.add_argument("--pad-before", type=_seconds, default=defaults.PAD_BEFORE, help="seconds kept before each serve (default %(default)s)")
    process.add_argument("--pad-after", type=_seconds, default=defaults.PAD_AFTER, help="seconds kept after each rally ends (default %(default)s)")
    process.add_argument("--no-clips", action="store_true", help="only find rallies; write no videos")
    process.add_argument("--best", type=_count, default=defaults.BEST_COUNT, help="rallies in best.mp4 (default %(default)s)")
    process.add_argument("--jobs", type=_count, default=2, help="ffmpeg jobs run at once when cutting (default %(default)s)")
    process.add_argument("--quiet", action="store_true", help="no progress bar, no summary")
    process.add_argument("--court", type=_corners, metavar="X,Y X,Y X,Y X,Y",
                         help="the court's four outer corners in source pixels, when it is not found on its own")
    process.add_argument("--beach", action="store_true", help="with --court: a beach court (8 x 16 m), not indoor")
    process.add_argument("--no-sound", action="store_true",
                         help="ignore the sound track (music, commentary, a loud neighbouring court); find rallies from the picture alone")
    process.set_defaults(run=_process)

    sample = commands.add_parser("sample", help="render a synthetic game with known rallies (for trying Volley)")
    sample.add_argument("path", type=Path, help="where to write the game (mp4)")
    sample.add_argument("--seed", type=int, default=1)
    sample.add_argument("--rallies", type=_count, default=6)
    sample.add_argument("--width", type=_count, default=1280)
    sample.add_argument("--height", type=_count, default=720)
    sample.add_argument("--fps", type=float, default=30.0)
    sample.add_argument("--quiet", action="store_true")
    sample.set_defaults(run=_sample)

    evaluate = commands.add_parser("evaluate", help="score found rallies against a sample game's known ones")
    evaluate.add_argument("rallies", type=Path, help="rallies.json written by `volley process`")
    evaluate.add_argument("truth", type=Path, help="GAME.truth.json written by `volley sample`")
    evaluate.set_defaults(run=_evaluate)
    _service_commands(commands)
    return parser


def _service_commands(commands) -> None:
    serve = commands.add_parser("serve", help="run the web service (and, embedded, the stages) on this machine")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)
    serve.add_argument("--demo", type=Path, metavar="GAME",
                       help="also make a user 'demo' (password 'volley-demo') who owns GAME, processed on start")
    serve.set_defaults(run=lambda a: _service("serve", a))

    worker = commands.add_parser("worker", help="run a stage worker on RQ queues")
    worker.add_argument("queues", nargs="+", choices=["vproc", "framer", "clipper", "pusher"], metavar="QUEUE",
                        help="vproc framer clipper pusher (a node's worker usually takes all four)")
    worker.add_argument("--burst", action="store_true", help="exit when the queues are empty")
    worker.set_defaults(run=lambda a: _service("worker", a))

    token = commands.add_parser("token", help="API tokens")
    token_commands = token.add_subparsers(required=True, metavar="ACTION")
    create = token_commands.add_parser("create", help="print USERNAME's API token, creating the user if needed")
    create.add_argument("username")
    create.set_defaults(run=lambda a: _service("token_create", a))

    reconcile = commands.add_parser("reconcile", help="queue again the stages that a dead worker or a Redis restart lost")
    reconcile.set_defaults(run=lambda a: _service("reconcile", a))

    manage = commands.add_parser("manage", help="Django management commands", add_help=False)
    manage.add_argument("args", nargs=argparse.REMAINDER)
    manage.set_defaults(run=lambda a: _service("manage", a))
    _operations_commands(commands)


def _operations_commands(commands) -> None:
    """The commands the container image runs (docker/, deploy/k8s/)."""
    web = commands.add_parser("web", help="serve the front with gunicorn (production)")
    web.add_argument("--bind", default=None, help="host:port (default 0.0.0.0:$VOLLEY_PORT, 8000)")
    web.set_defaults(run=lambda a: _service("web", a))

    migrate = commands.add_parser("migrate", help="bring the database schema up to date (a Helm hook Job runs it)")
    migrate.set_defaults(run=lambda a: _service("migrate", a))

    health = commands.add_parser("health", help="exit 0 if this container's process is healthy (image HEALTHCHECK)")
    health.add_argument("--url", default=None, help="the page to check (default http://127.0.0.1:$VOLLEY_PORT/healthz)")
    health.set_defaults(run=lambda a: _service("health", a))

    # --- scaler (scaler/) ---
    scaler = commands.add_parser("scaler", help="size the processing node pool and workers from the database")
    scaler.add_argument("--dry-run", action="store_true", help="decide and log, change nothing")
    scaler.add_argument("--once", action="store_true", help="one decision, then exit")
    scaler.set_defaults(run=lambda a: _service("scaler", a))
    # --- end scaler ---


def _service(command: str, args: argparse.Namespace) -> int:
    from front import commands

    return getattr(commands, command)(args)


def _seconds(text: str) -> float:
    value = float(text)
    if value < 0 or value > 60:
        raise argparse.ArgumentTypeError("must be between 0 and 60 seconds")
    return value


def _count(text: str) -> int:
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError("must not be negative")
    return value


def _corners(text: str) -> tuple[tuple[float, float], ...]:
    try:
        corners = tuple(tuple(float(v) for v in pair.split(",")) for pair in text.replace(";", " ").split())
    except ValueError:
        corners = ()
    if len(corners) != 4 or any(len(c) != 2 for c in corners):
        raise argparse.ArgumentTypeError('must be four corners as "X,Y X,Y X,Y X,Y" (source pixels)')
    return corners


def _process(args: argparse.Namespace) -> int:
    from volley.pipeline import Options, process
    from volley.progress import Bar

    options = Options(args.pad_before, args.pad_after, not args.no_clips, args.best, max(1, args.jobs),
                      hear=not args.no_sound, court=args.court, beach=args.beach)
    bar = Bar(enabled=not args.quiet)
    try:
        result = process(args.game, args.out, options, bar)
    finally:
        bar.close()
    if not args.quiet:
        _summary(result)
    return 0


def _summary(result) -> None:
    rallies = result.analysis.rallies
    if not rallies:
        print(f"No rallies found in this game ({result.analysis.video.duration:.0f} s analysed).")
    else:
        total = sum(r.duration for r in rallies)
        print(f"{len(rallies)} rallies, {total:.0f} s of play in {result.analysis.video.duration:.0f} s of video.")
    court = result.analysis.court
    if court is None:
        print("Court:    not found (give its corners with --court to set it)")
    else:
        how = "found" if court.by == "engine" else "as given"
        print(f"Court:    {how}, camera about {court.camera_height_m:.1f} m above the floor")
    print(f"Rallies:  {result.rallies_json}")
    print(f"Ball:     {result.track_json}")
    if result.digest:
        print(f"Clips:    {result.out_dir / 'clips'}")
        print(f"Digest:   {result.digest}")
    if result.best:
        print(f"Best:     {result.best}")


def _sample(args: argparse.Namespace) -> int:
    from volley.synth import GameSpec, render_game

    spec = GameSpec(seed=args.seed, width=args.width, height=args.height, fps=args.fps, rallies=args.rallies)
    args.path.parent.mkdir(parents=True, exist_ok=True)
    truth = render_game(args.path, spec)
    if not args.quiet:
        print(f"Sample game: {args.path} ({truth.duration:.0f} s, {len(truth.rallies)} rallies)")
    return 0


def _evaluate(args: argparse.Namespace) -> int:
    import json

    from volley.evaluation import score

    try:
        found = [(r["start"], r["end"]) for r in json.loads(args.rallies.read_text())["rallies"]]
        true = [tuple(r) for r in json.loads(args.truth.read_text())["rallies"]]
    except (OSError, ValueError, KeyError, TypeError) as err:
        raise BadInput(f"cannot read rallies to compare: {err}") from None
    print(f"Rallies against the known ones: {score(found, true).summary()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
