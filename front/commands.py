"""The service's command-line verbs (`volley serve`, `worker`, `token create`,
`reconcile`, `manage`, and the container image's `web`, `migrate`, `health`, `scaler`):
each sets up Django, then does one thing."""

from __future__ import annotations

import ipaddress
import logging
import os
import sys
import threading

log = logging.getLogger("volley.commands")


def setup() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "front.settings")
    import django

    django.setup()


def _migrate() -> None:
    from django.conf import settings
    from django.core.management import call_command

    settings.DATA_DIR.mkdir(parents=True, exist_ok=True)
    call_command("migrate", interactive=False, verbosity=0)


def serve(args) -> int:
    """The web front on one machine. Embedded (no VOLLEY_REDIS_URL): SQLite, local
    files and the stages in a thread of this process. Production uses gunicorn."""
    _allow_serve_host(args.host)
    setup()
    from django.conf import settings
    from django.core.servers.basehttp import WSGIServer, get_internal_wsgi_application, run

    from front.security import beyond_loopback_warning, is_loopback

    if not is_loopback(args.host):
        print(beyond_loopback_warning(args.host, args.port), file=sys.stderr, flush=True)

    _migrate()
    if settings.EMBEDDED:
        _start_stages()
    if args.demo:
        _demo_game(args.demo)
    print(f"Volley is at http://{args.host}:{args.port}/ (Ctrl-C stops it)", flush=True)
    run(args.host, args.port, get_internal_wsgi_application(), threading=True, server_cls=_server_class(WSGIServer))
    return 0


def _server_class(base):
    """Django's development server with a listen backlog for many clients at once: its
    10 pending connections made a burst of 50 API calls meet connection resets."""
    return type("VolleyServer", (base,), {"request_queue_size": 128})


def _start_stages() -> None:
    """The embedded mode's stage thread, after recovery: games the last run of this
    process left under way go on at once (its tries died with it), and recovery has the
    database to itself while it looks. Then recovery each minute in the background."""
    from django.conf import settings
    from django.db import close_old_connections

    from front.queues import InProcess
    from front.recovery import keep_house, reconcile

    try:
        reconcile(sole_worker=True)
    except Exception:  # the housekeeping thread tries again within a minute
        log.exception("recovery at start failed")
    finally:
        close_old_connections()
    InProcess.instance().start()
    threading.Thread(target=keep_house, args=(settings.RECONCILE_SECONDS, threading.Event()),
                     name="volley-housekeeping", daemon=True).start()


def _allow_serve_host(host: str) -> None:
    """A specific `--host` address is one clients use: answer to it besides loopback (read
    by front/settings.py as VOLLEY_SERVE_HOST). A wildcard (0.0.0.0, ::) names no host:
    clients' names must be listed in VOLLEY_ALLOWED_HOSTS."""
    try:
        wildcard = ipaddress.ip_address(host.strip("[]")).is_unspecified
    except ValueError:
        wildcard = False
    if host and not wildcard:
        os.environ["VOLLEY_SERVE_HOST"] = f"[{host.strip('[]')}]" if ":" in host else host


DEMO_USER, DEMO_PASSWORD = "demo", "volley-demo"


def _demo_game(path) -> None:
    """The README's demo: a user who owns the sample game, queued once."""
    from django.contrib.auth import get_user_model
    from django.contrib.auth.password_validation import validate_password

    from front.games import start_from_file
    from front.models import Game

    user, created = get_user_model().objects.get_or_create(username=DEMO_USER)
    if created:
        # The validators every password goes through (AUTH_PASSWORD_VALIDATORS), the
        # demo's too: a weak one here would be a weak one in every demo install.
        validate_password(DEMO_PASSWORD, user)
        user.set_password(DEMO_PASSWORD)
        user.save()
    if not Game.objects.filter(owner=user).exists():
        start_from_file(user, path.stem, path, path.name)
    print(f"Log in as {DEMO_USER} / {DEMO_PASSWORD} to see {path.name} processed.", flush=True)


def worker(args) -> int:
    from volley import telemetry

    telemetry.init("worker")  # before Django, so the agent can instrument it
    setup()
    from django.conf import settings

    from front.queues import redis_connection, worker_queues
    from front.workers import StageWorker
    from volley.exceptions import SettingError
    from volley.settings import node_name

    if settings.EMBEDDED:
        raise SettingError("VOLLEY_REDIS_URL is not set: workers need Redis (`volley serve` runs stages in-process)")
    names = worker_queues(args.queues, node_name())
    log.info("worker on %s listening to %s", node_name(), ", ".join(names))
    # The scheduler (a process RQ forks from this one's main thread) queues the retries
    # that wait out their backoff (`Queue.enqueue_in`).
    StageWorker(names, connection=redis_connection()).work(burst=args.burst, with_scheduler=True)
    return 0


def token_create(args) -> int:
    setup()
    from django.contrib.auth import get_user_model
    from rest_framework.authtoken.models import Token

    _migrate()
    user, created = get_user_model().objects.get_or_create(username=args.username)
    if created:
        user.set_unusable_password()  # an API user; a password can be set with `manage changepassword`
        user.save()
    token, _ = Token.objects.get_or_create(user=user)
    print(token.key)
    return 0


def reconcile(args) -> int:
    setup()
    from front.recovery import expire_uploads, reconcile as run

    lines = run() + [f"gave up the unfinished upload of game {g}" for g in expire_uploads()]
    for line in lines or ["nothing to do"]:
        print(line)
    return 0


def manage(args) -> int:
    setup()
    from django.core.management import execute_from_command_line

    execute_from_command_line(["volley manage", *args.args])
    return 0


def web(args) -> int:
    """The front under gunicorn: the image's default command. gunicorn replaces this
    process, so it gets the container's signals and drains requests on SIGTERM."""
    from volley.settings import env_int

    bind = args.bind or f"0.0.0.0:{env_int('PORT', 8000, minimum=1)}"
    argv = [
        sys.executable, "-m", "gunicorn", "front.wsgi",
        "--bind", bind,
        "--workers", str(env_int("WEB_WORKERS", 2, minimum=1)),
        "--threads", str(env_int("WEB_THREADS", 4, minimum=1)),
        "--timeout", str(env_int("WEB_TIMEOUT", 60, minimum=1)),
        # Kubernetes stops sending traffic before SIGTERM; finish what is in flight.
        "--graceful-timeout", "25",
        "--access-logfile", "-",
        "--forwarded-allow-ips", "*",  # behind the ingress; it sets X-Forwarded-*
    ]
    os.execv(sys.executable, argv)  # our own interpreter and gunicorn's fixed arguments  # nosec B606
    return 0  # not reached


def migrate(args) -> int:
    """Bring the schema up to date; safe to run again (the Helm pre-upgrade hook)."""
    setup()
    from django.conf import settings
    from django.core.management import call_command

    if settings.DATABASES["default"]["ENGINE"].endswith("sqlite3"):
        settings.DATA_DIR.mkdir(parents=True, exist_ok=True)
    call_command("migrate", interactive=False, verbosity=1)
    return 0


def health(args) -> int:
    """The image's HEALTHCHECK and the pods' liveness probe. A worker or the scaler is
    healthy while its main loop beats (`volley.liveness`); the front when /healthz
    answers."""
    import urllib.request

    from volley import liveness
    from volley.settings import env_int

    age = liveness.age()
    if age is not None and not args.url:
        if age <= liveness.stale_after():
            return 0
        print(f"volley health: no beat for {age:.0f} s ({liveness.path()})", file=sys.stderr)
        return 1
    url = args.url or f"http://127.0.0.1:{env_int('PORT', 8000, minimum=1)}/healthz"
    try:
        with urllib.request.urlopen(url, timeout=5) as response:  # an http URL we build  # nosec B310
            ok = response.status == 200
    except OSError as err:
        print(f"volley health: {url}: {err}", file=sys.stderr)
        return 1
    return 0 if ok else 1


def scaler(args) -> int:
    from volley import telemetry

    telemetry.init("scaler")
    setup()
    from scaler.service import run

    return run(args)
