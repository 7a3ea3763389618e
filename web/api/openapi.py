"""The OpenAPI 3 document of ``/api/v1``, served at ``/api/v1/openapi.json``.

Hand-maintained next to the routes; a test checks that every ``/api/v1`` route is described here
and nothing else is.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from models.enums import MeetingKind, MeetingStatus, MemberCategory, OrgKind
from web.api.common import API, ok
from web.attendance.api_doc import attendance_paths

routes = web.RouteTableDef()

JSON = "application/json"


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _body(name: str) -> dict[str, Any]:
    return {"required": True, "content": {JSON: {"schema": _ref(name)}}}


def _answer(description: str, schema: dict[str, Any] | None = None) -> dict[str, Any]:
    answer: dict[str, Any] = {"description": description}
    if schema is not None:
        answer["content"] = {JSON: {"schema": schema}}
    return answer


def _wrapped(key: str, name: str, many: bool = False) -> dict[str, Any]:
    inner = {"type": "array", "items": _ref(name)} if many else _ref(name)
    return {"type": "object", "required": [key], "properties": {key: inner}}


ERRORS = {
    "400": _answer("Invalid input; `error.fields` names the fields.", _ref("Error")),
    "401": _answer("Not logged in.", _ref("Error")),
    "403": _answer("Role or scope does not allow it, or the CSRF token is missing.", _ref("Error")),
    "404": _answer("Does not exist or is outside the caller's scope.", _ref("Error")),
}
ID_PARAM = [{"name": "id", "in": "path", "required": True, "schema": {"type": "integer"}}]


def _op(summary: str, ok_answer: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {"summary": summary, "responses": {**ok_answer, **ERRORS}, **extra}


def _crud(
    name: str, key: str, plural: str, create: str, update: str, list_params: list[Any]
) -> dict[str, Any]:
    return {
        f"{API}/{plural}": {
            "get": _op(
                f"List the {plural} the caller may see",
                {"200": _answer("OK", _wrapped(plural, name, many=True))},
                parameters=list_params,
            ),
            "post": _op(
                f"Create a {key} (secretary within their subtree, organiser)",
                {"201": _answer("Created", _wrapped(key, name))},
                requestBody=_body(create),
            ),
        },
        f"{API}/{plural}/{{id}}": {
            "get": _op(
                f"One {key}", {"200": _answer("OK", _wrapped(key, name))}, parameters=ID_PARAM
            ),
            "patch": _op(
                f"Change a {key}; absent fields keep their value",
                {"200": _answer("OK", _wrapped(key, name))},
                parameters=ID_PARAM,
                requestBody=_body(update),
            ),
        },
    }


def _enum(kind: type[Any]) -> dict[str, Any]:
    return {"type": "string", "enum": [item.value for item in kind]}


STR = {"type": "string"}
INT = {"type": "integer"}
DATE = {"type": "string", "format": "date"}
DATETIME = {"type": "string", "format": "date-time"}
IDS = {"type": "array", "items": INT}
BOOL = {"type": "boolean"}
NULLABLE_STR = {"type": "string", "nullable": True}
DATETIME_IN = {
    "type": "string",
    "description": "ISO 8601; without an offset it is read in the hub's time zone",
}


def _obj(properties: dict[str, Any], required: list[str] | None = None) -> dict[str, Any]:
    schema: dict[str, Any] = {"type": "object", "properties": properties}
    if required:
        schema["required"] = required
    return schema


MEETING_FIELDS = {
    "title": {"type": "string", "maxLength": 200},
    "kind": _enum(MeetingKind),
    "description": {"type": "string", "maxLength": 5000},
    "host_org_id": INT,
    "audience_org_ids": IDS,
    "site_ids": IDS,
    "presenter_ids": IDS,
    "planned_start": DATETIME_IN,
    "planned_end": DATETIME_IN,
    "credited_hours": {"type": "number", "minimum": 0, "maximum": 24},
    "record": BOOL,
    "agenda": {"type": "string", "maxLength": 5000},
    "presider_id": INT,
    "recorder_id": INT,
}
MEMBER_FIELDS = {
    "name": {"type": "string", "maxLength": 100},
    "category": _enum(MemberCategory),
    "unit_label": {"type": "string", "maxLength": 100},
    "home_org_id": INT,
    "applied_on": DATE,
    "admitted_on": DATE,
    "full_member_on": DATE,
    "is_secretary": BOOL,
    "is_committee_member": BOOL,
    "exempt": BOOL,
    "exempt_reason": {"type": "string", "maxLength": 200},
}
ORG_FIELDS = {
    "name": {"type": "string", "maxLength": 200},
    "kind": _enum(OrgKind),
    "parent_id": INT,
    "approved_by_id": INT,
    "starts_on": DATE,
    "ends_on": DATE,
}
SITE_FIELDS = {
    "name": {"type": "string", "maxLength": 200},
    "org_id": INT,
    "location": {"type": "string", "maxLength": 200},
    "terminal_username": {"type": "string", "maxLength": 64},
    "terminal_password": {"type": "string", "minLength": 8},
}

SCHEMAS: dict[str, Any] = {
    "Error": _obj(
        {
            "error": _obj(
                {
                    "code": {"type": "string", "description": "stable, for programs"},
                    "message": {"type": "string", "description": "in the caller's language"},
                    "fields": {"type": "object", "additionalProperties": STR},
                },
                ["code", "message", "fields"],
            )
        },
        ["error"],
    ),
    "Login": _obj({"username": STR, "password": STR}, ["username", "password"]),
    "User": _obj(
        {
            "account_id": INT,
            "username": STR,
            "name": STR,
            "role": STR,
            "kind": {"type": "string", "enum": ["member", "secretary", "organiser", "site"]},
            "member_id": {"type": "integer", "nullable": True},
            "site_id": {"type": "integer", "nullable": True},
            "scope_org_id": {"type": "integer", "nullable": True},
            "locale": NULLABLE_STR,
        }
    ),
    "Session": _obj({"csrf_token": STR, "user": _ref("User")}, ["csrf_token", "user"]),
    "MeetingSummary": _obj(
        {
            "id": INT,
            "title": STR,
            "kind": _enum(MeetingKind),
            "status": _enum(MeetingStatus),
            "planned_start": DATETIME,
            "planned_end": DATETIME,
            "host_org_id": INT,
            "url": STR,
            "live_url": NULLABLE_STR,
            "replay_url": NULLABLE_STR,
        },
        ["id", "title", "kind", "status", "planned_start", "planned_end", "url"],
    ),
    "Meeting": {
        "allOf": [
            _ref("MeetingSummary"),
            _obj(
                {
                    **MEETING_FIELDS,
                    "credited_hours": STR,
                    "actual_start": {**DATETIME, "nullable": True},
                    "actual_end": {**DATETIME, "nullable": True},
                    "presider_id": {"type": "integer", "nullable": True},
                    "recorder_id": {"type": "integer", "nullable": True},
                }
            ),
        ]
    },
    "MeetingCreate": _obj(
        MEETING_FIELDS, ["title", "kind", "host_org_id", "planned_start", "planned_end"]
    ),
    "MeetingUpdate": _obj(MEETING_FIELDS),
    "Org": _obj({"id": INT, "path": STR, **ORG_FIELDS}),
    "OrgCreate": _obj(ORG_FIELDS, ["name", "kind", "parent_id"]),
    "OrgUpdate": _obj({k: v for k, v in ORG_FIELDS.items() if k not in ("kind", "parent_id")}),
    "TemporaryMembers": _obj({"member_ids": IDS, "since": DATE}, ["member_ids", "since"]),
    "Member": _obj(
        {
            "id": INT,
            **{k: v for k, v in MEMBER_FIELDS.items() if k != "home_org_id"},
            "memberships": {
                "type": "array",
                "items": _obj(
                    {
                        "org_id": INT,
                        "kind": {"type": "string", "enum": ["home", "temporary"]},
                        "valid_from": DATETIME,
                        "valid_to": {**DATETIME, "nullable": True},
                    }
                ),
            },
        }
    ),
    "MemberCreate": _obj(MEMBER_FIELDS, ["name", "category", "home_org_id"]),
    "MemberUpdate": _obj(MEMBER_FIELDS),
    "Site": _obj(
        {"id": INT, "name": STR, "org_id": INT, "location": STR, "terminal_username": NULLABLE_STR}
    ),
    "SiteCreate": _obj(SITE_FIELDS, ["name", "org_id"]),
    "Heartbeat": _obj(
        {
            "seq": INT,
            "ranges": {
                "type": "array",
                "maxItems": 100,
                "items": {
                    "type": "array",
                    "items": {"type": "number"},
                    "minItems": 2,
                    "maxItems": 2,
                },
            },
            "position": {"type": "number"},
            "member_id": INT,
        },
        ["seq"],
    ),
    "HeartbeatAnswer": _obj(
        {
            "accepted": BOOL,
            "reason": {"type": "string", "enum": ["ok", "replayed", "not_tracked"]},
            "percent": {"type": "number", "description": "Of this recording (part)"},
            "meeting_percent": {
                "type": "number",
                "description": "Of the meeting: credit over all its ready parts, over their "
                "total length (what make-up counts)",
            },
            "credited": {"type": "number"},
            "watched": {"type": "number"},
            "position": {"type": "number"},
            "next_seq": INT,
        }
    ),
    "SiteUpdate": _obj(SITE_FIELDS),
}


def build_document() -> dict[str, Any]:
    paths: dict[str, Any] = {
        f"{API}/login": {
            "post": {
                "summary": "Log in: sets the session cookie, returns the CSRF token",
                "security": [],
                "requestBody": _body("Login"),
                "responses": {
                    "200": _answer("Logged in", _ref("Session")),
                    "401": _answer("Unknown user or wrong password (one answer)", _ref("Error")),
                    "429": _answer("Too many failed attempts", _ref("Error")),
                },
            }
        },
        f"{API}/logout": {
            "post": _op("Log out", {"200": _answer("Logged out", _obj({"ok": BOOL}))})
        },
        f"{API}/me": {"get": _op("The logged-in user", {"200": _answer("OK", _ref("Session"))})},
        f"{API}/openapi.json": {
            "get": {
                "summary": "This document",
                "security": [],
                "responses": {"200": _answer("OK", {"type": "object"})},
            }
        },
        f"{API}/orgs/{{id}}/temporary-members": {
            "post": _op(
                "Add members to a temporary branch from a date",
                {"200": _answer("OK", _obj({"added": INT}))},
                parameters=ID_PARAM,
                requestBody=_body("TemporaryMembers"),
            )
        },
        f"{API}/recordings/{{id}}/heartbeat": {
            "post": _op(
                "Report what the replay player played (the logged-in member's own watching). "
                "A beacon may send a form with csrf_token and the JSON in payload instead.",
                {"200": _answer("Applied, or ignored (replayed seq)", _ref("HeartbeatAnswer"))},
                parameters=ID_PARAM,
                requestBody=_body("Heartbeat"),
            )
        },
        f"{API}/meetings/{{id}}/cancel": {
            "post": _op(
                "Cancel a scheduled meeting (409 if it is not scheduled)",
                {"200": _answer("OK", _wrapped("meeting", "Meeting"))},
                parameters=ID_PARAM,
            )
        },
    }
    status_param = [
        {"name": "status", "in": "query", "required": False, "schema": _enum(MeetingStatus)}
    ]
    org_param = [{"name": "org_id", "in": "query", "required": False, "schema": INT}]
    paths.update(
        _crud("Meeting", "meeting", "meetings", "MeetingCreate", "MeetingUpdate", status_param)
    )
    paths[f"{API}/meetings"]["get"]["responses"]["200"] = _answer(
        "OK", _wrapped("meetings", "MeetingSummary", many=True)
    )
    paths.update(_crud("Org", "org", "orgs", "OrgCreate", "OrgUpdate", []))
    paths.update(_crud("Member", "member", "members", "MemberCreate", "MemberUpdate", org_param))
    paths.update(_crud("Site", "site", "sites", "SiteCreate", "SiteUpdate", []))
    paths.update(attendance_paths())
    return {
        "openapi": "3.0.3",
        "info": {
            "title": "lecturehub API",
            "version": "1",
            "description": (
                "Session-cookie API. Log in with POST /api/v1/login; send the returned "
                "csrf_token in the X-CSRF-Token header on every POST/PATCH. Resources outside "
                "the caller's scope answer 404; visible ones the caller may not change, 403."
            ),
        },
        "components": {
            "schemas": SCHEMAS,
            "securitySchemes": {
                "session": {"type": "apiKey", "in": "cookie", "name": "lecturehub_session"}
            },
        },
        "security": [{"session": []}],
        "paths": paths,
    }


DOCUMENT = build_document()


@routes.get(f"{API}/openapi.json")
async def openapi(request: web.Request) -> web.Response:
    return ok(DOCUMENT)


def setup(app: web.Application) -> None:
    app.router.add_routes(routes)
