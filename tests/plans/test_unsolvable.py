"""A search that finds no plan is stored and shown as a failure, never as a success
(issue 12)."""

from __future__ import annotations

import dataclasses

import pytest
from ortools.constraint_solver import routing_enums_pb2

from outreach.coordinator.plan_review import solver_sentence
from outreach.extensions import db
from outreach.jobs import runner
from outreach.models import JobStatus, PlanStatus, SolveJob
from outreach.planning.result import FEASIBLE_STATUSES
from outreach.plans import service
from tests.factories import login, monday

FAILED_NAMES = sorted(set(routing_enums_pb2.RoutingSearchStatus.Value.keys()) - FEASIBLE_STATUSES)
SUCCESS_WORDS = ("Plan found", "Best plan found", "Optimal plan found", "A quick plan")


def test_every_failed_search_status_reads_as_no_plan(app):
    """Each RoutingSearchStatus that is not a plan reads "found no plan", never like a found
    plan (SECURITY row 41)."""
    assert {"ROUTING_FAIL", "ROUTING_FAIL_TIMEOUT", "ROUTING_INFEASIBLE"} <= set(FAILED_NAMES)
    with app.test_request_context("/?lang=en"):
        for name in FAILED_NAMES:
            sentence = solver_sentence(name, 10.0, 10.0, 12)
            assert "found no plan" in sentence, (name, sentence)
            assert not sentence.startswith(SUCCESS_WORDS), (name, sentence)


@pytest.mark.parametrize("status", ["ROUTING_FAIL_TIMEOUT", "ROUTING_INFEASIBLE"])
def test_a_search_without_a_plan_fails_the_job_and_the_plan(
    app, client, office_data, monkeypatch, status
):
    """The solver ends with a failed status and no route: the job and the plan are failed
    with the status name in the message, and the review page and the job JSON say no plan
    was found (SECURITY row 41)."""
    real_solve = runner.solve

    def failed_search(problem, params, **kw):
        result = real_solve(problem, params, **kw)
        return dataclasses.replace(result, status=status, routes=())

    monkeypatch.setattr(runner, "solve", failed_search)
    user = office_data["user"]
    plan = service.create_plan(
        office_data["office"],
        user,
        name="Rencana gagal",
        start_date=monday(),
        end_date=monday(),
        time_limit_s=1,
    )
    job = service.start_solve(plan, user)  # the inline backend solves at once
    db.session.expire_all()
    job = db.session.get(SolveJob, job.id)
    assert job.status == JobStatus.FAILED and status in (job.error or "")
    plan = db.session.get(type(plan), plan.id)
    assert plan.status == PlanStatus.FAILED and plan.solver_status == status
    assert not plan.publications
    plan_id, job_id = plan.id, job.id
    db.session.rollback()

    login(client, user)
    html = client.get(f"/coord/plans/{plan_id}?lang=en").get_data(as_text=True)
    assert "found no plan" in html
    assert not any(f">{words}" in html for words in SUCCESS_WORDS)
    body = client.get(f"/coord/jobs/{job_id}.json").get_json()
    assert body["status"] == "failed" and status in body["error"]
