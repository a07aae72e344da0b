"""Locating rows without coordinates: gazetteer, then a stand-in Nominatim on 127.0.0.1."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

import pytest

from outreach.importing import preview_file
from outreach.importing.locate import (
    Geocoder,
    LocationQuery,
    Locator,
    locate_offline,
    query_text,
)

from .helpers import csv_bytes


class FakeClock:
    """A clock that only moves when the rate limiter sleeps."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


@dataclass
class StandIn:
    """What the stand-in server should do, and what it saw."""

    mode: str = "ok"
    clock: FakeClock | None = None
    requests: list[dict] = field(default_factory=list)
    release: threading.Event = field(default_factory=threading.Event)
    port: int = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


def _handler(state: StandIn) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - http.server's naming
            parts = urlsplit(self.path)
            state.requests.append(
                {
                    "path": parts.path,
                    "query": parse_qs(parts.query),
                    "user_agent": self.headers.get("User-Agent", ""),
                    "at": state.clock() if state.clock else None,
                }
            )
            if state.mode == "slow":
                state.release.wait(5)  # "delay 5 s"; released at teardown
            if state.mode in ("429", "503"):
                self.send_response(int(state.mode))
                self.send_header("Content-Type", "text/plain")
                self.end_headers()
                self.wfile.write(b"busy")
                return
            if state.mode == "empty":
                body: list = []
            elif state.mode == "outside":
                body = [{"lat": "52.37", "lon": "4.89", "display_name": "Amsterdam", "place_id": 1}]
            else:
                body = [{"lat": "3.6001", "lon": "98.6702", "display_name": "Medan", "place_id": 2}]
            payload = json.dumps(body).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            try:
                self.wfile.write(payload)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the client timed out and left

        def log_message(self, *args: object) -> None:
            pass

    return Handler


@pytest.fixture
def nominatim() -> Iterator[StandIn]:
    """A local Nominatim stand-in on 127.0.0.1 with a switchable behaviour."""
    state = StandIn()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(state))
    server.daemon_threads = True
    server.block_on_close = False
    state.port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield state
    state.release.set()
    server.shutdown()
    server.server_close()


def _geocoder(state: StandIn, **kw) -> tuple[Geocoder, FakeClock]:
    clock = FakeClock()
    state.clock = clock
    geocoder = Geocoder(
        state.url, timeout=kw.pop("timeout", 2.0), clock=clock, sleep=clock.sleep, **kw
    )
    return geocoder, clock


QUERY = LocationQuery(name="Pasar Petisah", address="Jl. Kota Baru III", kecamatan="Medan X")


# -- offline gazetteer ------------------------------------------------------------------------


def test_gazetteer_order_kelurahan_then_kecamatan_code_then_name():
    """Kelurahan code beats kecamatan code beats kecamatan name; a city centre is never used."""
    both = LocationQuery(kelurahan_code="12.71.01.1001", kecamatan_code="12.71.20")
    assert locate_offline(both).source == "gazetteer_kelurahan"
    by_code = LocationQuery(kecamatan_code="12.71.20", kecamatan="Medan Baru")
    assert locate_offline(by_code).area_name == "Medan Timur"
    assert locate_offline(LocationQuery(kecamatan="kec. medan baru")).area_name == "Medan Baru"
    city_only = LocationQuery(kelurahan_code="12.71.99.1001")
    assert locate_offline(city_only).status == "needs_location"


def test_geocoder_off_without_url():
    """Without GEOCODER_URL no geocoder exists and misses are needs_location, not errors."""
    locator = Locator.from_config({"GEOCODER_URL": None})
    assert locator.geocoder is None
    found = locator.locate(QUERY)
    assert (found.status, found.reason) == ("needs_location", "geocoder_off")


def test_bad_geocoder_url_is_a_config_error():
    """A GEOCODER_URL that is not http(s) fails loudly at configuration time."""
    with pytest.raises(ValueError):
        Locator.from_config({"GEOCODER_URL": "ftp://example"})


# -- stand-in Nominatim -----------------------------------------------------------------------


def test_geocoder_answers_with_our_user_agent(nominatim):
    """A found place is located; the request carries our User-Agent and Indonesia filter
    (SECURITY row 34)."""
    geocoder, _ = _geocoder(nominatim, version="1.2", contact="mailto:ops@dukcapil.example.go.id")
    found = geocoder.geocode(QUERY)
    assert (found.status, found.lat, found.lon, found.source) == (
        "located",
        3.6001,
        98.6702,
        "geocoder",
    )
    (request,) = nominatim.requests
    assert request["user_agent"] == "JemputBola/1.2 (+mailto:ops@dukcapil.example.go.id)"
    assert not request["user_agent"].startswith("geopy")
    assert request["path"] == "/search"
    assert request["query"]["countrycodes"] == ["id"]
    assert request["query"]["q"] == ["Pasar Petisah, Jl. Kota Baru III, Medan X, Indonesia"]


def test_requests_are_spaced_at_least_one_second(nominatim):
    """Consecutive requests are >= 1 s apart on the (fake) clock; min delay < 1 is raised to 1
    (SECURITY row 34)."""
    geocoder, clock = _geocoder(nominatim, min_delay_seconds=0.1)
    for i in range(4):
        geocoder.geocode(LocationQuery(name=f"Tempat {i}", kecamatan="Medan Kota"))
    times = [r["at"] for r in nominatim.requests]
    assert len(times) == 4
    assert all(b - a >= 1.0 for a, b in zip(times, times[1:], strict=False))
    assert clock.sleeps  # the limiter really waited instead of firing at once


def test_results_are_cached_including_no_result(nominatim):
    """A repeated query is answered from the cache; 'no result' is cached too (SECURITY row 34)."""
    cache: dict = {}
    geocoder, _ = _geocoder(nominatim, cache=cache)
    first = geocoder.geocode(QUERY)
    again = geocoder.geocode(QUERY)
    assert first == again and len(nominatim.requests) == 1
    nominatim.mode = "empty"
    other = LocationQuery(name="Tidak Ada", kecamatan="Medan Kota")
    assert geocoder.geocode(other).reason == "no_result"
    assert geocoder.geocode(other).reason == "no_result"
    assert len(nominatim.requests) == 2
    assert len(cache) == 2  # the DB layer can back this mapping


@pytest.mark.parametrize(("mode", "reason"), [("429", "rate_limited"), ("503", "unavailable")])
def test_server_errors_give_needs_location_and_pause(nominatim, mode, reason):
    """429/503 leave the row needs_location, are not cached, and pause further requests
    (SECURITY row 34)."""
    nominatim.mode = mode
    geocoder, _ = _geocoder(nominatim)
    found = geocoder.geocode(QUERY)
    assert (found.status, found.reason) == ("needs_location", reason)
    assert geocoder.geocode(LocationQuery(name="Lain", kecamatan="X")).reason == "geocoder_paused"
    assert len(nominatim.requests) == 1  # no retry hammering a throttling server
    nominatim.mode = "ok"
    geocoder.resume()
    assert geocoder.geocode(QUERY).status == "located"  # failures were not cached


def test_slow_server_times_out_into_needs_location(nominatim):
    """A server that takes 5 s hits our timeout; the row stays needs_location, nothing raises
    (SECURITY row 34)."""
    nominatim.mode = "slow"
    geocoder, _ = _geocoder(nominatim, timeout=0.5)
    found = geocoder.geocode(QUERY)
    assert (found.status, found.reason) == ("needs_location", "timeout")
    assert len(nominatim.requests) == 1  # no hidden urllib3 retries


def test_result_outside_indonesia_is_refused(nominatim):
    """A geocoder answer outside Indonesia is not used."""
    nominatim.mode = "outside"
    geocoder, _ = _geocoder(nominatim)
    assert geocoder.geocode(QUERY).reason == "outside_indonesia"


def test_unreachable_server_is_needs_location():
    """A closed port gives needs_location, not an exception (SECURITY row 34)."""
    clock = FakeClock()
    geocoder = Geocoder("http://127.0.0.1:9", timeout=0.5, clock=clock, sleep=clock.sleep)
    assert geocoder.geocode(QUERY).status == "needs_location"


def test_home_visits_never_send_the_street_address(nominatim):
    """For kind 'home' only the kelurahan/kecamatan is sent (residents' addresses are PII)
    (SECURITY row 34)."""
    query = LocationQuery(
        name="Rumah Bu Sri", address="Jl. Mawar 7", kelurahan="Sei Sikambing", kind="home"
    )
    assert query_text(query) == "Sei Sikambing, Indonesia"
    assert query_text(LocationQuery(name="Rumah", address="Jl. Mawar 7", kind="home")) == ""
    geocoder, _ = _geocoder(nominatim)
    geocoder.geocode(query)
    assert "Mawar" not in json.dumps(nominatim.requests)


def test_preview_uses_geocoder_only_when_asked(nominatim):
    """The preview is offline by default; with use_geocoder=True gazetteer misses are geocoded
    (SECURITY row 34)."""
    geocoder, _ = _geocoder(nominatim)
    locator = Locator(geocoder)
    data = csv_bytes(
        [("A", "Jl. Satu", "12.71.01.1001"), ("B", "Jl. Dua", ""), ("C", "Jl. Tiga", "")],
        header=("nama", "alamat", "kode_kelurahan"),
    )
    offline = preview_file("up.csv", data, locator=locator)
    assert [r.values.location_source for r in offline.rows] == ["gazetteer_kelurahan", None, None]
    assert nominatim.requests == []
    online = preview_file("up.csv", data, locator=locator, use_geocoder=True)
    assert [r.values.location_source for r in online.rows] == [
        "gazetteer_kelurahan",
        "geocoder",
        "geocoder",
    ]
    assert len(nominatim.requests) == 2


def test_failing_geocoder_in_preview_loses_no_row(nominatim):
    """With the geocoder down every row is still in the preview, as needs_location
    (SECURITY row 34)."""
    nominatim.mode = "503"
    geocoder, _ = _geocoder(nominatim)
    data = csv_bytes([(f"T{i}", f"Jl. {i}") for i in range(5)], header=("nama", "alamat"))
    preview = preview_file("up.csv", data, locator=Locator(geocoder), use_geocoder=True)
    assert [r.ok for r in preview.rows] == [True] * 5
    assert all(r.values.needs_location for r in preview.rows)
    assert len(nominatim.requests) == 1  # paused after the first failure
