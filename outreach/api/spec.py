"""One declaration per endpoint: it registers the URL rule, validates input, and documents it.

:func:`endpoint` adds the view to the blueprint *and* to :data:`ENDPOINTS`; the OpenAPI 3.1
document is generated from that list and from the very schemas the views validate with, so the
document cannot drift from the code (a test checks it lists every ``/api/v1`` rule).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import wraps
from typing import Any

from flask import Blueprint, request

from ..errors import ValidationFailed
from .schemas import ALL_SCHEMAS, Schema

PREFIX = "/api/v1"


@dataclass(frozen=True)
class Endpoint:
    rule: str
    method: str
    name: str
    summary: str
    tag: str
    body: Schema | None = None
    query: Schema | None = None
    multipart: bool = False
    responses: dict[int, str] = field(default_factory=dict)
    public: bool = False


ENDPOINTS: list[Endpoint] = []


def endpoint(
    bp: Blueprint,
    rule: str,
    method: str,
    *,
    summary: str,
    tag: str,
    body: Schema | None = None,
    query: Schema | None = None,
    multipart: bool = False,
    responses: dict[int, str] | None = None,
    public: bool = False,
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Register ``view`` on ``bp`` at ``rule`` and document it.

    With ``body``, the view receives ``body=`` (validated JSON); with ``query``, ``query=``
    (validated query parameters). Invalid input never reaches the view: 400 with field details.
    """

    def decorator(view: Callable[..., Any]) -> Callable[..., Any]:
        @wraps(view)
        def wrapped(*args: Any, **kwargs: Any) -> Any:
            if body is not None:
                data = request.get_json(silent=True)
                if data is None:
                    raise ValidationFailed(
                        "Badan permintaan harus JSON (Content-Type: application/json).",
                        [{"field": "body", "message": "Harus berupa objek JSON."}],
                    )
                kwargs["body"] = body.validate(data)
            if query is not None:
                kwargs["query"] = query.validate(request.args.to_dict(), from_query=True)
            return view(*args, **kwargs)

        ENDPOINTS.append(
            Endpoint(
                rule=rule,
                method=method,
                name=view.__name__,
                summary=summary,
                tag=tag,
                body=body,
                query=query,
                multipart=multipart,
                responses=responses or {200: "OK"},
                public=public,
            )
        )
        bp.add_url_rule(rule, endpoint=view.__name__, view_func=wrapped, methods=[method])
        return wrapped

    return decorator


def openapi_path(rule: str) -> str:
    """``/plans/<int:plan_id>`` → ``/api/v1/plans/{plan_id}``."""
    return PREFIX + re.sub(r"<(?:[^<>:]+:)?([^<>]+)>", r"{\1}", rule)


ERROR_SCHEMA = {
    "type": "object",
    "required": ["error"],
    "properties": {
        "error": {
            "type": "object",
            "required": ["code", "message", "details"],
            "properties": {
                "code": {"type": "string", "examples": ["validation_error", "plan_conflict"]},
                "message": {"type": "string", "description": "Kalimat untuk manusia."},
                "details": {
                    "type": "array",
                    "items": {
                        "oneOf": [
                            {
                                "type": "object",
                                "properties": {
                                    "field": {"type": "string"},
                                    "message": {"type": "string"},
                                },
                            },
                            {"type": "string"},
                        ]
                    },
                },
            },
        }
    },
}

STANDARD_ERRORS = {
    400: "Masukan tidak valid (details: field + message)",
    401: "Token tidak ada atau tidak sah",
    403: "Peran tidak diizinkan",
    404: "Tidak ditemukan",
    409: "Konflik: data sudah berubah, muat ulang",
    503: "Antrean tidak tersedia, coba lagi nanti",
}


def openapi_document(version: str) -> dict[str, Any]:
    """The OpenAPI 3.1 document of every registered endpoint."""
    paths: dict[str, dict[str, Any]] = {}
    for ep in ENDPOINTS:
        op: dict[str, Any] = {
            "operationId": ep.name,
            "summary": ep.summary,
            "tags": [ep.tag],
            "responses": {},
        }
        params = re.findall(r"<(?:([^<>:]+):)?([^<>]+)>", ep.rule)
        parameters = [
            {
                "name": name,
                "in": "path",
                "required": True,
                "schema": {"type": "integer" if conv == "int" else "string"},
            }
            for conv, name in params
        ]
        if ep.query is not None:
            for name, spec in ep.query.fields.items():
                parameters.append(
                    {
                        "name": name,
                        "in": "query",
                        "required": spec.required,
                        "schema": spec.json_schema(),
                    }
                )
        if parameters:
            op["parameters"] = parameters
        if ep.body is not None:
            op["requestBody"] = {
                "required": True,
                "content": {
                    "application/json": {"schema": {"$ref": f"#/components/schemas/{ep.body.name}"}}
                },
            }
        if ep.multipart:
            op["requestBody"] = {
                "required": True,
                "content": {
                    "multipart/form-data": {
                        "schema": {
                            "type": "object",
                            "required": ["file"],
                            "properties": {
                                "file": {
                                    "type": "string",
                                    "contentMediaType": "application/octet-stream",
                                    "description": "CSV (UTF-8, , atau ;) atau XLSX",
                                }
                            },
                        }
                    }
                },
            }
        for status, text in ep.responses.items():
            op["responses"][str(status)] = {
                "description": text,
                "content": {"application/json": {"schema": {"type": "object"}}},
            }
        errors = dict(STANDARD_ERRORS)
        if ep.public:
            errors = {k: v for k, v in errors.items() if k not in (401, 403)}
        for status, text in errors.items():
            op["responses"].setdefault(
                str(status),
                {
                    "description": text,
                    "content": {
                        "application/json": {"schema": {"$ref": "#/components/schemas/Error"}}
                    },
                },
            )
        if ep.public:
            op["security"] = []
        paths.setdefault(openapi_path(ep.rule), {})[ep.method.lower()] = op
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Jemput Bola API",
            "version": version,
            "description": (
                "Rencana jemput bola perekaman KTP-el: titik, tim, rencana, pekerjaan latar "
                "belakang, terbit. Semua galat memakai satu bentuk: "
                '{"error": {"code", "message", "details"}}.'
            ),
        },
        "servers": [{"url": "/"}],
        "security": [{"bearer": []}],
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
            "schemas": {
                "Error": ERROR_SCHEMA,
                **{s.name: s.json_schema() for s in ALL_SCHEMAS},
                # Bodies declared by other API modules (the field API) are documented too.
                **{ep.body.name: ep.body.json_schema() for ep in ENDPOINTS if ep.body},
            },
        },
        "paths": paths,
    }
