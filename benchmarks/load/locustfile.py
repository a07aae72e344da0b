"""Locust users for ``benchmarks/load_drill.py`` (read its docstring; not run on its own).

The drill writes the ids, tokens and the coordinator's login to the JSON file named by
``JB_LOAD_SETUP`` before it starts locust. Three kinds of user:

* ``Resident``: the public schedule, stop pages, a stop's calendar file and the map;
* ``Coordinator``: logs in once, then opens the plan review page and the dashboard. The
  login POST is measured on its own (``allow_redirects=False``); the dashboard it redirects
  to is then fetched and counted under ``/coord/`` like every other dashboard view;
* ``Tablet`` (exactly 60): one field member's tablet coming online at the morning start:
  it fetches its route, then posts a check-in and an outcome for each of its stops, each
  outcome sent twice with the same ``client_uuid`` (a retry after a lost answer), 0.2-1 s
  apart. With nothing left to send it refreshes its route every 20-40 s, as the real
  client does at most (``static/js/field.js`` flushes its outbox every 30 s and re-fetches
  pages only after a sync that sent something).
"""

from __future__ import annotations

import itertools
import json
import os
import random
import re
import threading
import uuid

from locust import HttpUser, between, task

SETUP = json.load(open(os.environ["JB_LOAD_SETUP"], encoding="utf-8"))  # noqa: SIM115
CSRF = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')
_tablets = itertools.count()
_lock = threading.Lock()


class Resident(HttpUser):
    weight = 8
    wait_time = between(0.5, 2.0)

    @task(4)
    def schedule(self):
        self.client.get(f"/o/{SETUP['office_key']}", name="/o/[office]")

    @task(4)
    def stop_page(self):
        self.client.get(f"/stop/{random.choice(SETUP['public_visits'])}", name="/stop/[id]")

    @task(1)
    def stop_calendar(self):
        visit = random.choice(SETUP["public_visits"])
        self.client.get(f"/stop/{visit}.ics", name="/stop/[id].ics")

    @task(1)
    def public_map(self):
        self.client.get(f"/o/{SETUP['office_key']}/map", name="/o/[office]/map")


class Coordinator(HttpUser):
    weight = 1
    wait_time = between(1.0, 3.0)

    def on_start(self):
        page = self.client.get("/login", name="/login").text
        token = CSRF.search(page).group(1)
        with self.client.post(
            "/login",
            data={
                "username": SETUP["coordinator"],
                "password": SETUP["password"],
                "csrf_token": token,
            },
            name="/login (POST)",
            allow_redirects=False,
            catch_response=True,
        ) as resp:
            if resp.status_code != 302:
                resp.failure(f"login answered {resp.status_code}, not a redirect")
                return
        self.client.get(resp.headers["Location"], name="/coord/")

    @task(3)
    def review(self):
        self.client.get(f"/coord/plans/{SETUP['plan_id']}", name="/coord/plans/[id]")

    @task(1)
    def dashboard(self):
        self.client.get("/coord/", name="/coord/")


class Tablet(HttpUser):
    fixed_count = 60

    def wait_time(self):
        # posting: the outbox goes out stop after stop; done: a route refresh now and then
        return random.uniform(0.2, 1.0) if self.todo else random.uniform(20.0, 40.0)

    def on_start(self):
        with _lock:
            k = next(_tablets)
        token, stops = SETUP["tablets"][k % len(SETUP["tablets"])]
        self.headers = {"Authorization": f"Bearer {token}"}
        self.todo = list(stops)

    def _post(self, path, body, name):
        self.client.post(path, json=body, headers=self.headers, name=name)

    @task
    def work(self):
        if not self.todo:
            self.client.get("/api/v1/field/route", headers=self.headers, name="/api/v1/field/route")
            return
        if len(self.todo) == len(SETUP["tablets"][0][1]):
            self.client.get("/api/v1/field/route", headers=self.headers, name="/api/v1/field/route")
        stop_id = self.todo.pop(0)
        self._post(
            "/api/v1/field/checkins",
            {"client_uuid": str(uuid.uuid4()), "stop_id": stop_id},
            "/api/v1/field/checkins",
        )
        outcome = {
            "client_uuid": str(uuid.uuid4()),
            "stop_id": stop_id,
            "present": 35,
            "recorded": {"ktp_record": 30, "kia": 5},
            "cards_carried": 10,
            "cards_used": 0,
        }
        self._post("/api/v1/field/outcomes", outcome, "/api/v1/field/outcomes")
        self._post("/api/v1/field/outcomes", outcome, "/api/v1/field/outcomes (retry)")
