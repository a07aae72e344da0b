"""Plan screens: role checks, the review page, adjust forms, publish and exports."""

from __future__ import annotations

import re

import pytest
import sqlalchemy as sa

from outreach.extensions import db
from outreach.models import (
    JobStatus,
    Office,
    Plan,
    PlannedStop,
    PlanPublication,
    PlanStatus,
    Role,
    SolveJob,
)
from tests.factories import (
    login,
    make_hotspot,
    make_office,
    make_solved_plan,
    make_team,
    make_unserved,
    make_user,
)


@pytest.fixture
def plan(app):
    p = make_solved_plan(6, teams=2, days=2)
    make_unserved(p, reason_text="Tidak ada tim dengan layanan KIA pada hari itu.")
    db.session.commit()
    return p


@pytest.fixture
def coord(app, plan):
    user = make_user(Role.COORDINATOR, office_id=plan.office_id)
    db.session.commit()
    return user


@pytest.fixture
def coord_client(client, coord):
    login(client, coord)
    return client


def live_stops(plan: Plan) -> list[PlannedStop]:
    return [s for r in plan.routes for s in r.stops]


# -- access ------------------------------------------------------------------------------------


PLAN_GETS = [
    "/coord/plans",
    "/coord/plans/new",
    "/coord/plans/{plan}",
    "/coord/plans/{plan}/export.csv",
    "/coord/plans/{plan}/export.xlsx",
    "/coord/plans/{plan}/routes/{route}.gpx",
    "/coord/plans/{plan}/routes/{route}/sheet",
    "/coord/plans/{plan}/teams/{team}.ics",
]
PLAN_POSTS = [
    "/coord/plans/new",
    "/coord/plans/{plan}/stops/move",
    "/coord/plans/{plan}/stops/{stop}/lock",
    "/coord/plans/{plan}/stops/{stop}/unlock",
    "/coord/plans/{plan}/stops/{stop}/drop",
    "/coord/plans/{plan}/hotspots",
    "/coord/plans/{plan}/reoptimise",
    "/coord/plans/{plan}/publish",
]


def _fill(url: str, plan: Plan) -> str:
    route = plan.routes[0]
    return url.format(plan=plan.id, route=route.id, team=route.team_id, stop=route.stops[0].id)


ALL = [("get", u) for u in PLAN_GETS] + [("post", u) for u in PLAN_POSTS]


@pytest.mark.parametrize(("method", "url"), ALL)
def test_anonymous_is_sent_to_login(client, plan, method, url):
    """Every plan screen turns anonymous users away (deny by default) and changes nothing
    (SECURITY row 12)."""
    resp = getattr(client, method)(_fill(url, plan), data={"expected_version": "1"})
    assert resp.status_code in (302, 401)
    assert "/login" in resp.headers.get("Location", "/login")
    assert db.session.get(Plan, plan.id).version_id == plan.version_id


@pytest.mark.parametrize(("method", "url"), ALL)
def test_field_user_is_forbidden(client, plan, method, url):
    """A field team member gets 403 on every coordinator plan screen (SECURITY row 12)."""
    field_user = make_user(Role.FIELD, team=plan.routes[0].team)
    db.session.commit()
    login(client, field_user)
    resp = getattr(client, method)(_fill(url, plan), data={"expected_version": "1"})
    assert resp.status_code == 403


def test_other_office_plan_is_not_found(client, plan):
    """A coordinator of another office cannot see this office's plan (404, not 403)
    (SECURITY row 11)."""
    other = make_user(Role.COORDINATOR, office_id=make_office().id)
    db.session.commit()
    login(client, other)
    assert client.get(f"/coord/plans/{plan.id}").status_code == 404


# -- review ------------------------------------------------------------------------------------


def test_review_shows_routes_kpis_and_unserved_reason(coord_client, plan):
    """The review page lists every team-day, the KPIs and each unserved reason sentence."""
    resp = coord_client.get(f"/coord/plans/{plan.id}")
    assert resp.status_code == 200
    html = resp.get_data(as_text=True)
    for route in plan.routes:
        assert f'id="r{route.id}"' in html
    assert "Tidak ada tim dengan layanan KIA pada hari itu." in html
    assert 'id="kpi-served">240<' in html  # 6 stops × 40 residents
    assert html.count('class="tl-bar tl-stop"') == 6
    assert "L.control.layers" in html and "L.polyline" in html
    assert "markerClusterGroup" in html


def test_review_shows_engine_reasons_in_the_page_language(coord_client, plan):
    """The engine's reasons (stored in English, with their values) read in Indonesian by
    default and in English on request, with service labels, the team's name and the date."""
    team = plan.routes[0].team
    make_unserved(
        plan,
        reason_code="NO_TEAM_OFFERS_SERVICE",
        reason_text="No team offers ktp_print.",
        reason_params={"services": "ktp_print"},
    )
    make_unserved(
        plan,
        reason_code="LOCK_CONFLICT",
        reason_text=f"It is locked to team {team.id} on 2026-12-08, where it cannot be served.",
        reason_params={"team": str(team.id), "date": "2026-12-08"},
    )
    make_unserved(
        plan,
        reason_code="OUTRANKED",
        reason_text="It would fit on its own, but the teams' time on the days that could take "
        "it went to sites of the same or higher priority.",
    )
    db.session.commit()
    url = f"/coord/plans/{plan.id}"
    html = coord_client.get(url).get_data(as_text=True)
    assert "Tidak ada tim yang menawarkan Pencetakan KTP-el." in html
    assert f"Titik ini dikunci ke tim {team.name} pada Selasa, 8 Desember 2026" in html
    assert (
        "Sebenarnya muat sendiri, tetapi waktu tim pada hari yang memungkinkan sudah dipakai "
        "untuk titik dengan prioritas sama atau lebih tinggi." in html
    )
    assert "Tidak ada tim dengan layanan KIA pada hari itu." in html  # unknown code: as stored
    assert "No team offers" not in html and "It would fit" not in html
    html = coord_client.get(url + "?lang=en").get_data(as_text=True)
    assert "No team offers KTP-el printing." in html
    assert f"It is locked to team {team.name} on Tuesday, 8 December 2026" in html
    assert "It would fit on its own, but the teams&#39; time" in html
    assert "Tidak ada tim yang menawarkan" not in html


def test_plan_json_gives_the_reason_in_the_request_language(app, plan):
    """The API keeps the reason code and gives the sentence in the request's language."""
    from outreach.plans import service

    make_unserved(
        plan,
        reason_code="CARDS_EXHAUSTED",
        reason_text="Not enough blank cards left for 1200 KTP prints.",
        reason_params={"cards": "1200"},
    )
    db.session.commit()
    with app.test_request_context("/api/v1/plans"):
        rows = service.plan_to_dict(plan)["unserved"]
    row = next(r for r in rows if r["reason_code"] == "CARDS_EXHAUSTED")
    assert row["reason"] == "Sisa blangko KTP-el tidak cukup untuk mencetak 1.200 kartu."


def test_plan_pages_are_indonesian_by_default_and_english_on_request(coord_client, plan):
    """Review, form and list speak Indonesian by default and English after ?lang=en."""
    url = f"/coord/plans/{plan.id}"
    html = coord_client.get(url).get_data(as_text=True)
    assert "Jadwal per tim-hari" in html and "Sen 07 Des 2026" in html
    assert "Siap ditinjau" in html and 'data-confirm="Hapus kunjungan ini dari rencana?"' in html
    html = coord_client.get(url + "?lang=en").get_data(as_text=True)
    assert "Schedule per team-day" in html and "Mon 07 Dec 2026" in html
    assert "Ready for review" in html and 'data-confirm="Remove this visit from the plan?"' in html
    assert "Jadwal per tim-hari" not in html
    assert "Solver time limit" in coord_client.get("/coord/plans/new").get_data(as_text=True)
    html = coord_client.get("/coord/plans?lang=id").get_data(as_text=True)
    assert "Buat rencana baru" in html and "Create a new plan" not in html


def test_progress_script_labels_follow_the_language(coord_client, plan):
    """The polling script's status texts come from the page, in the page's language."""
    db.session.add(SolveJob(id="job-lang", plan_id=plan.id, status=JobStatus.RUNNING))
    db.session.commit()
    html = coord_client.get("/coord/jobs/job-lang").get_data(as_text=True)
    assert '"running": "Sedang menghitung"' in html
    assert '"title_done": "Perhitungan selesai"' in html
    html = coord_client.get("/coord/jobs/job-lang?lang=en").get_data(as_text=True)
    assert '"running": "Running"' in html and '"title_failed": "Solving failed"' in html


def test_review_map_escapes_hostile_names(coord_client, plan):
    """A hotspot name with markup or ${...} never reaches the map's script unescaped
    (SECURITY row 28)."""
    stop = plan.routes[0].stops[0]
    stop.hotspot.name = "<img src=x onerror=alert(1)>`${globalThis.pwn=1}`</script>"
    db.session.commit()
    html = coord_client.get(f"/coord/plans/{plan.id}").get_data(as_text=True)
    scripts = re.findall(r"<script\b[^>]*>(.*?)</script>", html, flags=re.S)
    body = "".join(scripts)
    assert "globalThis.pwn" in body  # the text is there, shown literally
    assert "${globalThis" not in body
    assert "<img src=x" not in body
    assert "`${" not in body


def test_review_map_does_not_run_jinja_in_names(coord_client, plan):
    """Names with Jinja syntax stay text: folium re-renders map scripts as templates
    (SECURITY row 28)."""
    stop = plan.routes[0].stops[0]
    stop.hotspot.name = "{{ 'SSTI' ~ 'RAN' }} {% if true %}BLOCK{% endif %}"
    plan.routes[0].team.name = "Tim {{ cycler.__name__ ~ 'PWNED' }}"
    make_hotspot(db.session.get(Office, plan.office_id), name="{{ 6 * 7 }}x{{ 6 * 7 }}")
    db.session.commit()
    resp = coord_client.get(f"/coord/plans/{plan.id}")
    assert resp.status_code == 200
    html = resp.get_data(as_text=True)
    assert "SSTIRAN" not in html and "42x42" not in html
    assert "CyclerPWNED" not in html
    scripts = "".join(re.findall(r"<script\b[^>]*>(.*?)</script>", html, flags=re.S))
    assert "SSTI" in scripts and "PWNED" in scripts  # still there, as text


def test_review_scripts_carry_the_csp_nonce(coord_client, plan):
    """Every script on the review page is external from our origin or carries the nonce
    (SECURITY row 29)."""
    resp = coord_client.get(f"/coord/plans/{plan.id}")
    nonce = re.search(r"'nonce-([^']+)'", resp.headers["Content-Security-Policy"]).group(1)
    html = resp.get_data(as_text=True)
    for tag in re.findall(r"<script\b[^>]*>", html):
        src = re.search(r'src="([^"]+)"', tag)
        assert (src and src.group(1).startswith("/static/")) or f'nonce="{nonce}"' in tag, tag
    assert " onclick=" not in html and " onload=" not in html


# -- progress ---------------------------------------------------------------------------------


def test_job_json_reports_best_plan_so_far(coord_client, plan):
    """The polling JSON shows status, residents served, km and elapsed time of the job."""
    job = SolveJob(
        id="job-123",
        plan_id=plan.id,
        status=JobStatus.RUNNING,
        progress={
            "persons_served": 120,
            "persons_requested": 300,
            "distance_km": 14.5,
            "elapsed_s": 3.2,
            "time_limit_s": 10,
            "percent": 32,
        },
    )
    db.session.add(job)
    db.session.commit()
    data = coord_client.get("/coord/jobs/job-123.json").get_json()
    assert data["status"] == "running" and data["done"] is False
    assert data["persons"] == 120 and data["persons_requested"] == 300 and data["km"] == 14.5
    assert data["fraction"] == 0.32
    page = coord_client.get("/coord/jobs/job-123").get_data(as_text=True)
    assert 'data-status-url="/coord/jobs/job-123.json"' in page
    assert 'id="cancel-solve"' in page


def test_plan_form_creates_plan_and_solves(client, app):
    """The plan form creates a plan, solves it (inline backend) and the review shows routes."""
    app.config["JOB_BACKEND"] = "inline"
    office = make_office()
    teams = [make_team(office, name=f"Tim {c}") for c in "AB"]
    for i in range(4):
        make_hotspot(office, name=f"SMA Form {i}", lat=3.58 + 0.003 * i, lon=98.67)
    make_hotspot(office, name="Pasar Lain", kind="market", lat=3.6, lon=98.68)
    user = make_user(Role.COORDINATOR, office_id=office.id)
    db.session.commit()
    login(client, user)
    form = client.get("/coord/plans/new").get_data(as_text=True)
    assert 'name="team_ids"' in form and "Tim A" in form
    resp = client.post(
        "/coord/plans/new",
        data={
            "name": "Rencana formulir",
            "start_date": "2026-12-07",
            "end_date": "2026-12-08",
            "team_ids": [str(t.id) for t in teams],
            "kind": ["school"],
            "time_limit_s": "2",
        },
    )
    assert resp.status_code == 302 and "/coord/jobs/" in resp.headers["Location"]
    job_id = resp.headers["Location"].rsplit("/", 1)[1]
    data = client.get(f"/coord/jobs/{job_id}.json").get_json()
    assert data["status"] == "done" and data["done"] and data["persons"] > 0
    plan = db.session.get(Plan, data["plan_id"])
    assert plan.status == PlanStatus.SOLVED and plan.params["time_limit_s"] == 2
    # The kind filter left the market out of the plan entirely.
    names = {s.hotspot.name for r in plan.routes for s in r.stops}
    names |= {u.hotspot.name for u in plan.unserved}
    assert "Pasar Lain" not in names and names
    assert client.get(data["review_url"]).status_code == 200


def test_plan_form_without_team_is_refused(coord_client, plan):
    """Submitting the plan form without a team re-shows it with the reason and creates nothing."""
    before = db.session.scalar(sa.select(sa.func.count(Plan.id)))
    resp = coord_client.post(
        "/coord/plans/new",
        data={"start_date": "2026-12-07", "end_date": "2026-12-08", "time_limit_s": "2"},
    )
    assert resp.status_code == 422
    assert "Pilih paling sedikit satu tim." in resp.get_data(as_text=True)
    assert db.session.scalar(sa.select(sa.func.count(Plan.id))) == before


# -- adjust ------------------------------------------------------------------------------------


def test_move_stop_to_other_team_day(client, tiny):
    """Moving a stop puts it on the chosen team-day, locks it and bumps the plan version."""
    plan, user = tiny
    login(client, user)
    stop = live_stops(plan)[0]
    target = next(t for t in plan.routes[0].plan.params["team_ids"] if t != stop.route.team_id)
    version = plan.version_id
    resp = client.post(
        f"/coord/plans/{plan.id}/stops/move",
        data={
            "stop_id": stop.id,
            "target": f"{target}:2026-12-08",
            "position": "1",
            "expected_version": version,
        },
    )
    assert resp.status_code == 302
    db.session.expire_all()
    moved = db.session.get(PlannedStop, stop.id)
    assert moved.route.team_id == target and moved.route.day.isoformat() == "2026-12-08"
    assert moved.position == 0 and moved.locked
    assert db.session.get(Plan, plan.id).version_id > version
    page = client.get(resp.headers["Location"]).get_data(as_text=True)
    assert "Kunjungan dipindahkan" in page


def test_stale_version_gets_conflict_message(client, tiny):
    """An edit from a stale page answers 409 with the reload message and changes nothing
    (SECURITY row 37)."""
    plan, user = tiny
    login(client, user)
    stop = live_stops(plan)[0]
    stale = plan.version_id
    client.post(f"/coord/plans/{plan.id}/stops/{stop.id}/lock", data={"expected_version": stale})
    resp = client.post(
        f"/coord/plans/{plan.id}/stops/{stop.id}/drop", data={"expected_version": stale}
    )
    assert resp.status_code == 409
    assert "Rencana ini telah diubah oleh koordinator lain; muat ulang." in resp.get_data(
        as_text=True
    )
    assert db.session.get(PlannedStop, stop.id) is not None


def test_lock_unlock_and_drop(client, tiny):
    """Lock and unlock toggle the stop; drop removes it and lists the hotspot as unserved."""
    plan, user = tiny
    login(client, user)
    stop = live_stops(plan)[0]
    hotspot_id = stop.hotspot_id

    def post(action):
        version = db.session.get(Plan, plan.id).version_id
        url = f"/coord/plans/{plan.id}/stops/{stop.id}/{action}"
        return client.post(url, data={"expected_version": version})

    assert post("lock").status_code == 302
    assert db.session.get(PlannedStop, stop.id).locked
    assert post("unlock").status_code == 302
    assert not db.session.get(PlannedStop, stop.id).locked
    assert post("drop").status_code == 302
    db.session.expire_all()
    assert db.session.get(PlannedStop, stop.id) is None
    page = client.get(f"/coord/plans/{plan.id}").get_data(as_text=True)
    assert "Dikeluarkan dari rencana oleh koordinator." in page
    assert any(u.hotspot_id == hotspot_id for u in db.session.get(Plan, plan.id).unserved)


def test_add_hotspot_back_after_drop(client, tiny):
    """A dropped hotspot can be added back to a team-day; it is planned and no longer unserved."""
    plan, user = tiny
    login(client, user)
    stop = live_stops(plan)[0]
    hotspot_id, team_id = stop.hotspot_id, stop.route.team_id
    client.post(
        f"/coord/plans/{plan.id}/stops/{stop.id}/drop", data={"expected_version": plan.version_id}
    )
    page = client.get(f"/coord/plans/{plan.id}").get_data(as_text=True)
    assert f'<option value="{hotspot_id}">' in page  # offered in the add form
    resp = client.post(
        f"/coord/plans/{plan.id}/hotspots",
        data={
            "hotspot_id": hotspot_id,
            "target": f"{team_id}:2026-12-08",
            "expected_version": db.session.get(Plan, plan.id).version_id,
        },
    )
    assert resp.status_code == 302
    db.session.expire_all()
    refreshed = db.session.get(Plan, plan.id)
    added = [s for s in live_stops(refreshed) if s.hotspot_id == hotspot_id]
    assert len(added) == 1 and added[0].route.day.isoformat() == "2026-12-08" and added[0].locked
    assert all(u.hotspot_id != hotspot_id for u in refreshed.unserved)


def test_refused_edit_says_why(client, tiny):
    """Adding a hotspot that has no location is refused with the reason, nothing changes."""
    plan, user = tiny
    office = db.session.get(Office, plan.office_id)
    pinless = make_hotspot(office, name="Rumah tanpa pin", lat=None, lon=None)
    db.session.commit()
    login(client, user)
    version = plan.version_id
    resp = client.post(
        f"/coord/plans/{plan.id}/hotspots",
        data={
            "hotspot_id": pinless.id,
            "target": f"{plan.routes[0].team_id}:2026-12-07",
            "expected_version": version,
        },
        follow_redirects=True,
    )
    assert "Titik ini belum punya lokasi." in resp.get_data(as_text=True)
    assert db.session.get(Plan, plan.id).version_id == version


def test_checker_violations_are_shown_in_words(coord_client, plan):
    """Violations the checker stored on the plan are listed as sentences above the map."""
    plan.violations = ["Tim 1 tiba di SMA Negeri 3 Medan setelah jam buka berakhir (13:00)."]
    db.session.commit()
    html = coord_client.get(f"/coord/plans/{plan.id}").get_data(as_text=True)
    box = html.split('id="violations"', 1)[1].split("</section>", 1)[0]
    assert "setelah jam buka berakhir (13:00)." in box
    assert 'id="no-violations"' not in html


def test_publish_then_republish_lists_changes(client, tiny):
    """Publishing makes version 1; after a drop, re-publishing lists the cancelled visit."""
    plan, user = tiny
    login(client, user)
    resp = client.post(
        f"/coord/plans/{plan.id}/publish", data={"expected_version": plan.version_id}
    )
    assert resp.status_code == 302
    assert db.session.get(Plan, plan.id).published_version == 1
    stop = live_stops(db.session.get(Plan, plan.id))[0]
    name = stop.hotspot.name
    client.post(
        f"/coord/plans/{plan.id}/stops/{stop.id}/drop",
        data={"expected_version": db.session.get(Plan, plan.id).version_id},
    )
    client.post(
        f"/coord/plans/{plan.id}/publish",
        data={"expected_version": db.session.get(Plan, plan.id).version_id},
    )
    pubs = db.session.scalars(
        sa.select(PlanPublication).where(PlanPublication.plan_id == plan.id)
    ).all()
    assert [p.version for p in pubs] == [1, 2]
    page = client.get(f"/coord/plans/{plan.id}").get_data(as_text=True)
    cancelled = page.split('class="change-cancelled"', 1)[1].split("</ul>", 1)[0]
    assert name in cancelled


def test_publish_without_csrf_token_is_refused(app_config, tmp_path):
    """With CSRF on, a publish POST without a token gets 400 and publishes nothing
    (SECURITY row 16)."""
    from outreach import create_app
    from tests.conftest import _reset_database

    app_config["WTF_CSRF_ENABLED"] = True
    application = create_app(app_config)
    with application.app_context():
        _reset_database()
        plan = make_solved_plan(2, teams=1, days=1)
        user = make_user(Role.COORDINATOR, office_id=plan.office_id)
        db.session.commit()
        client = application.test_client()
        login(client, user)
        resp = client.post(f"/coord/plans/{plan.id}/publish", data={"expected_version": "1"})
        assert resp.status_code == 400
        assert db.session.get(Plan, plan.id).published_version == 0
        db.session.remove()
        db.engine.dispose()


# -- exports -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "ext", "mime"),
    [
        ("/export.csv", "csv", "text/csv"),
        ("/export.xlsx", "xlsx", "application/vnd.openxmlformats"),
        ("/routes/{route}.gpx", "gpx", "application/gpx+xml"),
        ("/teams/{team}.ics", "ics", "text/calendar"),
    ],
)
def test_exports_are_attachments_with_safe_names(coord_client, plan, path, ext, mime):
    """Each export downloads as an attachment whose file name cannot break the header
    (SECURITY row 26)."""
    plan.name = 'Rencana "Desember"\r\n/../evil; x=1'
    plan.routes[0].team.name = 'Tim "A"\\Medan'
    db.session.commit()
    route = plan.routes[0]
    url = f"/coord/plans/{plan.id}" + path.format(route=route.id, team=route.team_id)
    resp = coord_client.get(url)
    assert resp.status_code == 200
    assert resp.headers["Content-Type"].startswith(mime)
    disposition = resp.headers["Content-Disposition"]
    match = re.fullmatch(r'attachment; filename="([A-Za-z0-9._-]+)"', disposition)
    assert match, disposition
    assert match.group(1).endswith(f".{ext}") and ".." not in match.group(1)
    assert resp.data


def test_csv_export_neutralises_formulas(coord_client, plan):
    """A hotspot name that a spreadsheet would run as a formula is exported inert
    (SECURITY row 26)."""
    plan.routes[0].stops[0].hotspot.name = '=HYPERLINK("http://x","y")'
    db.session.commit()
    body = coord_client.get(f"/coord/plans/{plan.id}/export.csv").get_data(as_text=True)
    assert "'=HYPERLINK" in body
    assert ",=HYPERLINK" not in body and '"=HYPERLINK' not in body


def test_day_sheet_lists_the_route_in_order(coord_client, plan):
    """The printable day sheet shows the team-day's stops in order with print styles."""
    route = plan.routes[0]
    resp = coord_client.get(f"/coord/plans/{plan.id}/routes/{route.id}/sheet")
    html = resp.get_data(as_text=True)
    assert resp.status_code == 200
    names = [s.hotspot.name for s in route.stops]
    positions = [html.index(n) for n in names]
    assert positions == sorted(positions)
    assert "plan.css" in html and route.team.name in html


# -- security rows 16, 29–31 -------------------------------------------------------------------


def _row_counts() -> dict[str, int]:
    return {
        t.name: db.session.scalar(sa.select(sa.func.count()).select_from(t))
        for t in db.metadata.sorted_tables
        if t.name not in ("user_session", "audit_event")  # login touch and export audit trail
    }


def test_plan_get_pages_change_no_rows(coord_client, plan):
    """Viewing the plan screens (GET) never changes plan data: no mutating GETs
    (SECURITY row 16)."""
    route = plan.routes[0]
    version = plan.version_id
    before = _row_counts()
    for url in PLAN_GETS:
        assert coord_client.get(_fill(url, plan)).status_code == 200, url
    db.session.expire_all()
    assert _row_counts() == before
    assert db.session.get(Plan, plan.id).version_id == version
    assert db.session.get(type(route), route.id).distance_m == route.distance_m


def test_review_map_loads_no_foreign_assets(coord_client, plan):
    """The review page's scripts and styles come from our origin (vendored Leaflet)
    (SECURITY row 30)."""
    html = coord_client.get(f"/coord/plans/{plan.id}").get_data(as_text=True)
    for tag in re.findall(r"<(?:script|link)\b[^>]*>", html):
        url = re.search(r'(?:src|href)="([^"]*)"', tag)
        assert url is None or url.group(1).startswith(("/", "data:")), tag
        assert url is None or not url.group(1).startswith("//"), tag


def test_review_map_tiles_send_a_referrer(coord_client, plan, app):
    """With tiles on, the tile layer uses the configured URL and a referrer policy OSM accepts
    (SECURITY row 31)."""
    app.config["MAP_TILE_URL"] = "https://tiles.example.test/{z}/{x}/{y}.png"
    resp = coord_client.get(f"/coord/plans/{plan.id}")
    html = resp.get_data(as_text=True)
    assert "https://tiles.example.test/{z}/{x}/{y}.png" in html
    assert '"referrerPolicy": "strict-origin-when-cross-origin"' in html
    assert resp.headers["Referrer-Policy"] == "strict-origin-when-cross-origin"


def test_cancel_button_cancels_a_queued_solve(coord_client, plan):
    """Cancelling a queued solve stops it at once and keeps the plan's existing routes."""
    plan.status = PlanStatus.SOLVING
    job = SolveJob(
        id="job-cancel",
        plan_id=plan.id,
        status=JobStatus.QUEUED,
        progress={"previous_status": "solved", "time_limit_s": 5},
    )
    db.session.add(job)
    db.session.commit()
    routes = len(plan.routes)
    resp = coord_client.post("/coord/jobs/job-cancel/cancel")
    assert resp.status_code == 302 and resp.headers["Location"].endswith("/coord/jobs/job-cancel")
    db.session.expire_all()
    assert db.session.get(SolveJob, "job-cancel").status == JobStatus.CANCELLED
    refreshed = db.session.get(Plan, plan.id)
    assert refreshed.status == PlanStatus.SOLVED and len(refreshed.routes) == routes
    data = coord_client.get("/coord/jobs/job-cancel.json").get_json()
    assert data["done"] and data["status"] == "cancelled"
