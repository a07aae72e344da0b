"""Plans: the adapter between database rows and the planning core, and the plan services.

``adapter`` is the only module that translates rows into a :class:`~outreach.planning.Problem`
and a :class:`~outreach.planning.result.Result` back into rows; ``service`` holds the plain
functions the coordinator screens, the JSON API and the job runner call.
"""
