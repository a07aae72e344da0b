"""Load drill (SECURITY row 46; scale-out issue, item 5): residents, coordinators and 60
tablets at once against gunicorn on 127.0.0.1, with PostgreSQL by default.

Seeds the Kota Medan demo, plans next Monday–Friday and publishes it (public pages, a
review page), plus an office of 60 teams with a field member (bearer token) and
``--stops`` stops each today. Starts ``gunicorn -c gunicorn.conf.py`` with
``--web-workers`` processes, then runs locust headless (``benchmarks/load/locustfile.py``):
``--users`` users (60 of them tablets) spawned at ``--spawn-rate`` per second for
``--seconds``. Prints p50/p95/p99 and the error count per endpoint from locust's CSV, then
counts in the database: exactly one outcome per stop posted and each site's remaining
demand lowered exactly once (every outcome is sent twice with the same ``client_uuid``).
Also prints where the machine's CPU went during the run: gunicorn (master, workers and
the workers recycled by ``max_requests``), locust, and the rest (PostgreSQL and the OS),
as CPU seconds and as a share of all cores over the run's wall time, from ``/proc/stat``
and psutil (a dependency of locust). On one machine the load generator competes with the
server for the same cores; this says how much.
Exit 1 when an endpoint's p95 is at or above ``--p95-ms`` (200), any request failed, or an
outcome was lost or doubled. Run from the repository root::

    .venv/bin/python benchmarks/load_drill.py                       # PostgreSQL "bench"
    .venv/bin/python benchmarks/load_drill.py --users 120 --seconds 120
    .venv/bin/python benchmarks/load_drill.py --database-url sqlite   # a temp SQLite file

The database is emptied first (DROP SCHEMA public): use a throw-away one.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import resource
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

import psutil  # noqa: E402
import sqlalchemy as sa  # noqa: E402
from field_sync import build  # noqa: E402
from public_schedule import prepare  # noqa: E402

from outreach import create_app  # noqa: E402
from outreach.config import database_uri_from_env  # noqa: E402
from outreach.extensions import db  # noqa: E402
from outreach.models import HotspotDemand, Office, Plan, PublicVisit, Role, VisitOutcome  # noqa: E402
from tests.factories import make_user  # noqa: E402

# a throw-away database, made and emptied by this script: random per run
SECRET = secrets.token_urlsafe(48)
PASSWORD = secrets.token_urlsafe(16)


def seed(uri: str, stops: int) -> dict:
    app = create_app(
        {
            "SECRET_KEY": SECRET,
            "SQLALCHEMY_DATABASE_URI": uri,
            "JOB_BACKEND": "inline",
            "SERVER_NAME": "localhost",
            "RATELIMIT_ENABLED": False,
        }
    )
    with app.app_context():
        if db.engine.dialect.name == "postgresql":
            with db.engine.begin() as conn:
                conn.execute(sa.text("DROP SCHEMA public CASCADE; CREATE SCHEMA public;"))
        db.create_all()
        prepare(10, 5)
        office = db.session.scalar(sa.select(Office).order_by(Office.id))
        plan = db.session.scalar(sa.select(Plan).where(Plan.office_id == office.id))
        make_user(Role.COORDINATOR, office_id=office.id, username="drill", password=PASSWORD)
        visits = db.session.scalars(
            sa.select(PublicVisit.id).where(PublicVisit.is_home.is_(False))
        ).all()
        setup = {
            "office_key": office.slug,
            "plan_id": plan.id,
            "public_visits": list(visits),
            "coordinator": "drill",
            "password": PASSWORD,
        }
        db.session.commit()
        tablets = build(60, stops)
        setup["tablets"] = [[token, [s for s, _ in st]] for token, st in tablets]
        db.session.remove()
        db.engine.dispose()
    return setup


def _reaped_children_s() -> float:
    """CPU seconds of this process's children that have ended (locust, once it returns)."""
    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    return ru.ru_utime + ru.ru_stime


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_ready(port: int, proc: subprocess.Popen) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit("gunicorn exited during start")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=2) as r:
                if r.status == 200:
                    return
        except OSError:
            time.sleep(0.3)
    raise SystemExit("gunicorn not ready in 60 s")


def machine_busy_s() -> float:
    """CPU seconds all cores have spent busy since boot (``/proc/stat``; idle and iowait
    are not busy)."""
    ticks = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:9]]
    return (sum(ticks) - ticks[3] - ticks[4]) / os.sysconf("SC_CLK_TCK")


def group_cpu_s(pid: int) -> float:
    """CPU seconds of a process, its live descendants and the children it has reaped
    (gunicorn's master reaps the workers ``max_requests`` recycles)."""
    try:
        master = psutil.Process(pid)
        t = master.cpu_times()
        total = t.user + t.system + t.children_user + t.children_system
        for child in master.children(recursive=True):
            try:
                c = child.cpu_times()
                total += c.user + c.system
            except psutil.NoSuchProcess:
                pass
        return total
    except psutil.NoSuchProcess:
        return 0.0


def count_outcomes(uri: str) -> tuple[int, set[int]]:
    engine = sa.create_engine(uri)
    try:
        with engine.connect() as conn:
            n = conn.scalar(sa.select(sa.func.count()).select_from(VisitOutcome.__table__))
            remaining = set(
                conn.scalars(
                    sa.select(HotspotDemand.remaining).where(
                        HotspotDemand.service == "ktp_record",
                        HotspotDemand.hotspot_id.in_(
                            sa.select(VisitOutcome.__table__.c.hotspot_id)
                        ),
                    )
                )
            )
    finally:
        engine.dispose()
    return int(n), remaining


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", default="postgresql://postgres@127.0.0.1:5432/bench")
    parser.add_argument("--web-workers", type=int, default=4)
    parser.add_argument("--users", type=int, default=100, help="60 of them are tablets")
    parser.add_argument("--spawn-rate", type=float, default=20)
    parser.add_argument("--seconds", type=int, default=60)
    parser.add_argument("--stops", type=int, default=8, help="stops per tablet today")
    parser.add_argument("--p95-ms", type=float, default=200)
    args = parser.parse_args()
    if args.users <= 60:
        parser.error("--users must exceed the 60 tablets")
    work = Path(tempfile.mkdtemp(prefix="jb-load-"))
    url = args.database_url
    uri = f"sqlite:///{work / 'load.sqlite3'}" if url == "sqlite" else database_uri_from_env(url)
    t0 = time.perf_counter()
    setup = seed(uri, args.stops)
    (work / "setup.json").write_text(json.dumps(setup), encoding="utf-8")
    print(
        f"seeded in {time.perf_counter() - t0:.0f} s: {len(setup['public_visits'])} public "
        f"visits, 60 tablets x {args.stops} stops ({uri.split(':')[0]})"
    )
    port = free_port()
    env = {
        **os.environ,
        "DATABASE_URL": uri if url == "sqlite" else url,
        "SECRET_KEY": SECRET,
        "JEMPUT_ENV": "development",
        "LOG_FORMAT": "json",
        "LOG_LEVEL": "WARNING",
        "GUNICORN_ACCESSLOG": "",
        "RATELIMIT_ENABLED": "0",
        "JB_LOAD_SETUP": str(work / "setup.json"),
    }
    env.pop("REDIS_URL", None)
    with open(work / "gunicorn.log", "ab") as log:
        web = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "gunicorn",
                "-c",
                str(ROOT / "gunicorn.conf.py"),
                "--bind",
                f"127.0.0.1:{port}",
                "--workers",
                str(args.web_workers),
                "outreach:create_app()",
            ],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=log,
            start_new_session=True,
        )
    try:
        wait_ready(port, web)
        busy0, web0, t_run = machine_busy_s(), group_cpu_s(web.pid), time.monotonic()
        samples, stop_sampling = [busy0], threading.Event()
        sampler = threading.Thread(
            target=lambda: [
                samples.append(machine_busy_s()) for _ in iter(lambda: stop_sampling.wait(1), True)
            ],
            daemon=True,
        )
        sampler.start()
        locust0 = _reaped_children_s()
        subprocess.run(
            [
                sys.executable,
                "-m",
                "locust",
                "-f",
                str(ROOT / "benchmarks" / "load" / "locustfile.py"),
                "--headless",
                "--only-summary",
                "-u",
                str(args.users),
                "-r",
                str(args.spawn_rate),
                "-t",
                f"{args.seconds}s",
                "--host",
                f"http://127.0.0.1:{port}",
                "--csv",
                str(work / "load"),
            ],
            cwd=ROOT,
            env=env,
            check=False,
            capture_output=True,
        )
        wall = time.monotonic() - t_run
        busy = machine_busy_s() - busy0
        stop_sampling.set()
        sampler.join()
        web_cpu = group_cpu_s(web.pid) - web0
        locust_cpu = _reaped_children_s() - locust0
    finally:
        if web.poll() is None:
            os.killpg(web.pid, signal.SIGTERM)
            web.wait(timeout=30)

    failed = False
    print(f"{'endpoint':34} {'requests':>8} {'fail':>5} {'p50':>6} {'p95':>6} {'p99':>6}  ms")
    with open(work / "load_stats.csv", newline="", encoding="utf-8") as fh:
        for row in csv.DictReader(fh):
            name = row["Name"] if row["Type"] else "all"
            n, fails = int(row["Request Count"]), int(row["Failure Count"])
            p50, p95, p99 = (float(row[k] or 0) for k in ("50%", "95%", "99%"))
            bad = fails > 0 or (row["Name"] != "Aggregated" and p95 >= args.p95_ms)
            failed |= bad
            print(
                f"{row['Type'] + ' ' + name:34.34} {n:>8} {fails:>5} {p50:>6.0f} {p95:>6.0f} "
                f"{p99:>6.0f}{'  <-' if bad else ''}"
            )
    cores = (os.cpu_count() or 1) * wall
    rest = max(0.0, busy - web_cpu - locust_cpu)
    print(
        f"CPU over the {wall:.0f} s run ({os.cpu_count()} cores = {cores:.0f} core-s): "
        f"busy {busy:.0f} s ({busy / cores:.0%}); gunicorn {web_cpu:.0f} s "
        f"({web_cpu / cores:.0%}), locust {locust_cpu:.0f} s ({locust_cpu / cores:.0%}), "
        f"PostgreSQL and the rest {rest:.0f} s ({rest / cores:.0%})"
    )
    per_s = [b - a for a, b in zip(samples, samples[1:], strict=False)]
    if len(per_s) >= 10:
        window = max(range(len(per_s) - 9), key=lambda i: sum(per_s[i : i + 10]))
        share = sum(per_s[window : window + 10]) / (10 * (os.cpu_count() or 1))
        print(f"busiest 10 s: seconds {window}-{window + 10} of the run, {share:.0%} of all cores")
    posted = sum(len(s) for _, s in setup["tablets"])
    n, remaining = count_outcomes(uri)
    lost_or_doubled = n != posted or remaining != {10}
    print(
        f"outcomes in the database: {n} for {posted} stops posted (each sent twice); "
        f"remaining ktp_record per visited site {sorted(remaining)} (expected [10]) -> "
        + ("LOST OR DOUBLED" if lost_or_doubled else "none lost, none doubled")
    )
    return 1 if failed or lost_or_doubled else 0


if __name__ == "__main__":
    raise SystemExit(main())
