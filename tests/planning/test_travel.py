"""Travel providers: great circle, explicit matrices and OSRM's table service."""

from __future__ import annotations

import json
import math
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

import numpy as np
import pytest

from outreach.planning import ExplicitMatrix, GreatCircleTravel, Location, OsrmTableProvider, Place
from outreach.planning.travel import EARTH_RADIUS_M, haversine_m


def places(*coords: tuple[float, float]) -> list[Place]:
    return [Place("site", str(i), Location(lat, lon)) for i, (lat, lon) in enumerate(coords)]


def reference_haversine(a: Location, b: Location) -> float:
    p1, p2 = math.radians(a.lat), math.radians(b.lat)
    dp, dl = p2 - p1, math.radians(b.lon - a.lon)
    h = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_M * math.asin(math.sqrt(h))


def test_one_degree_of_latitude_is_about_111_km():
    """Great-circle distance matches the textbook value for one degree of latitude."""
    d = haversine_m(np.array([0.0, 1.0]), np.array([98.0, 98.0]))
    assert d[0, 1] == pytest.approx(111_195, rel=1e-4)
    assert d[0, 0] == 0.0


def test_detour_and_speed_give_integer_metres_and_seconds():
    """Distance = great circle × detour; duration = distance ÷ profile speed, as ints."""
    travel = GreatCircleTravel(speeds_kmh={"car": 20.0, "boat": 12.0}, detour=1.4)
    pts = places((3.59, 98.67), (3.60, 98.68))
    dist, dur = travel.matrices(pts, "car")
    _, boat = travel.matrices(pts, "boat")
    straight = reference_haversine(pts[0].location, pts[1].location)
    assert dist.dtype == np.int64 and dur.dtype == np.int64
    assert dist[0, 1] == round(straight * 1.4)
    assert dur[0, 1] == round(straight * 1.4 / (20 / 3.6))
    assert boat[0, 1] > dur[0, 1]


def test_unknown_profile_is_rejected():
    """Asking for a profile without a speed names the profile."""
    with pytest.raises(ValueError, match="unknown vehicle profile 'horse'"):
        GreatCircleTravel().matrices(places((0, 0), (0, 1)), "horse")


def test_invalid_detour_is_rejected():
    """A detour below 1 or NaN is a configuration error (SECURITY row 42)."""
    with pytest.raises(ValueError, match="detour"):
        GreatCircleTravel(detour=0.9)
    with pytest.raises(ValueError, match="detour"):
        GreatCircleTravel(detour=math.nan)


def test_matrix_for_2000_sites_is_correct():
    """A 2,000-site matrix equals per-pair haversine × detour on sampled pairs."""
    rng = np.random.default_rng(7)
    pts = places(*zip(rng.uniform(3.4, 3.8, 2000), rng.uniform(98.5, 98.9, 2000), strict=True))
    dist, dur = GreatCircleTravel().matrices(pts, "car")
    assert dist.shape == (2000, 2000) and dur.shape == (2000, 2000)
    assert (np.diag(dist) == 0).all()
    assert (dist == dist.T).all()
    for i, j in rng.integers(0, 2000, size=(200, 2)):
        expected = reference_haversine(pts[i].location, pts[j].location) * 1.4
        assert abs(int(dist[i, j]) - expected) <= 1


def test_explicit_matrix_maps_places_to_rows():
    """Rows are looked up by (kind, id); shared rows (one depot) are allowed."""
    travel = ExplicitMatrix(
        index={("site", "a"): 1, ("site", "b"): 2, ("start", "T1"): 0, ("end", "T1"): 0},
        distance_m=[[0, 10, 20], [10, 0, 15], [20, 15, 0]],
        duration_s=[[0, 1, 2], [1, 0, 3], [2, 3, 0]],
    )
    loc = Location(0, 0)
    pts = [Place("start", "T1", loc), Place("site", "b", loc), Place("site", "a", loc)]
    dist, dur = travel.matrices(pts, "car")
    assert dist.tolist() == [[0, 20, 10], [20, 0, 15], [10, 15, 0]]
    assert dur[1, 2] == 3


def test_explicit_matrix_rejects_bad_values_and_unknown_places():
    """Negative or non-finite values and unknown places are refused (SECURITY row 42)."""
    with pytest.raises(ValueError, match=r"within \[0, 2\*\*31\)"):
        ExplicitMatrix(index={}, distance_m=[[0, -1], [1, 0]], duration_s=[[0, 1], [1, 0]])
    with pytest.raises(ValueError, match="NaN"):
        ExplicitMatrix(index={}, distance_m=[[0, math.nan], [1, 0]], duration_s=[[0, 1], [1, 0]])
    ok = ExplicitMatrix(index={}, distance_m=[[0]], duration_s=[[0]])
    with pytest.raises(ValueError, match="no row for place"):
        ok.matrices([Place("site", "x", Location(0, 0))], "car")


# -- OSRM against a local stand-in ------------------------------------------------------


class _OsrmStub(BaseHTTPRequestHandler):
    """Answers /table/v1/<profile>/<coords> like OSRM, from straight-line metres."""

    requests: list[str] = []

    def do_GET(self) -> None:  # noqa: N802 - http.server API
        url = urlsplit(self.path)
        _OsrmStub.requests.append(url.path)
        parts = url.path.split("/")
        coords = [tuple(map(float, c.split(","))) for c in parts[4].split(";")]
        query = parse_qs(url.query)
        src = [int(x) for x in query["sources"][0].split(";")]
        dst = [int(x) for x in query["destinations"][0].split(";")]
        lat = np.array([c[1] for c in coords])
        lon = np.array([c[0] for c in coords])
        d = haversine_m(lat, lon)
        body = {
            "code": "Ok",
            "distances": [[float(d[i, j]) * 1.3 for j in dst] for i in src],
            "durations": [[float(d[i, j]) / 8.0 for j in dst] for i in src],
        }
        if "unroutable" in url.query:
            body["distances"][0][-1] = None
        payload = json.dumps(body).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, *args: object) -> None:
        return


@pytest.fixture
def osrm_url():
    server = ThreadingHTTPServer(("127.0.0.1", 0), _OsrmStub)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    _OsrmStub.requests = []
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def test_osrm_table_provider_reads_the_table(osrm_url):
    """The provider sends lon,lat coordinates and returns OSRM's metres and seconds."""
    pts = places((3.59, 98.67), (3.60, 98.68), (3.62, 98.70))
    dist, dur = OsrmTableProvider(osrm_url).matrices(pts, "car")
    straight = reference_haversine(pts[0].location, pts[2].location)
    assert dist[0, 2] == round(straight * 1.3)
    assert dur[0, 2] == round(straight / 8.0)
    assert _OsrmStub.requests[0].startswith("/table/v1/driving/98.670000,3.590000;")


def test_osrm_large_requests_are_chunked(osrm_url):
    """More places than the chunk size are fetched block by block, fully filled."""
    rng = np.random.default_rng(1)
    pts = places(*zip(rng.uniform(3.5, 3.7, 9), rng.uniform(98.6, 98.8, 9), strict=True))
    dist, _ = OsrmTableProvider(osrm_url, chunk=4).matrices(pts, "car")
    reference, _ = GreatCircleTravel(detour=1.3).matrices(pts, "car")
    assert len(_OsrmStub.requests) > 1
    assert np.abs(dist - reference).max() <= 1


def test_osrm_unroutable_pairs_are_unreachable_not_free(osrm_url):
    """OSRM's null for an unroutable pair becomes a huge value, never zero."""
    pts = places((3.59, 98.67), (3.60, 98.68))
    provider = OsrmTableProvider(osrm_url, fetch=lambda url, t: _fetch_unroutable(url, t))
    dist, _ = provider.matrices(pts, "car")
    assert dist[0, 1] >= 2**31 - 1 - 1


def _fetch_unroutable(url: str, timeout: float) -> bytes:
    import urllib.request

    with urllib.request.urlopen(url + "&unroutable=1", timeout=timeout) as response:  # noqa: S310
        return response.read()


def test_osrm_rejects_non_http_url():
    """Only http(s) URLs are accepted."""
    with pytest.raises(ValueError, match="expected an http"):
        OsrmTableProvider("file:///etc/passwd")
