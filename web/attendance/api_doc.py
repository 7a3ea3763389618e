"""The attendance part of the OpenAPI document (merged into ``web/api/openapi.py``)."""

from __future__ import annotations

from typing import Any

from web.api.common import API

JSON = "application/json"
_ERR = {"$ref": "#/components/schemas/Error"}
_ID = [{"name": "id", "in": "path", "required": True, "schema": {"type": "integer"}}]
_ERRORS = {
    code: {"description": text, "content": {JSON: {"schema": _ERR}}}
    for code, text in (
        ("400", "Invalid query (year, dates)."),
        ("401", "Not logged in."),
        ("403", "The role does not allow this report."),
        ("404", "No such subject, or outside the caller's scope."),
    )
}
_REPORT = {
    "type": "object",
    "required": ["report"],
    "properties": {"report": {"type": "object", "additionalProperties": True}},
}


def _get(summary: str, params: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "get": {
            "summary": summary,
            "parameters": _ID + params,
            "responses": {
                "200": {"description": "OK", "content": {JSON: {"schema": _REPORT}}},
                **_ERRORS,
            },
        }
    }


def _query(name: str, fmt: str, description: str) -> dict[str, Any]:
    schema: dict[str, Any] = {"type": "integer"} if fmt == "int" else {"type": "string"}
    if fmt == "date":
        schema["format"] = "date"
    return {
        "name": name,
        "in": "query",
        "required": False,
        "schema": schema,
        "description": description,
    }


_STR = {"type": "string"}
_INT = {"type": "integer"}
_BOOL = {"type": "boolean"}
_TIME = {"type": "string", "format": "date-time"}
_NULL_TIME = {**_TIME, "nullable": True}


def _obj(properties: dict[str, Any]) -> dict[str, Any]:
    return {"type": "object", "required": list(properties), "properties": properties}


def _errors(extra: dict[str, str]) -> dict[str, Any]:
    texts = {
        "400": "Invalid input or query; `error.fields` names the fields, `error.code` the rule.",
        "401": "Not logged in.",
        "403": "The role does not allow this, or the CSRF token is missing.",
        "404": "No such subject, or outside the caller's scope.",
        **extra,
    }
    return {
        code: {"description": text, "content": {JSON: {"schema": _ERR}}}
        for code, text in sorted(texts.items())
    }


def _answer(description: str, schema: dict[str, Any]) -> dict[str, Any]:
    return {"description": description, "content": {JSON: {"schema": schema}}}


def _body(properties: dict[str, Any], required: list[str]) -> dict[str, Any]:
    schema: dict[str, Any] = {"type": "object", "properties": properties}
    if required:
        schema["required"] = required
    return {"required": True, "content": {JSON: {"schema": schema}}}


def _op(
    summary: str, answers: dict[str, Any], errors: dict[str, str] | None = None, **extra: Any
) -> dict[str, Any]:
    return {"summary": summary, "responses": {**answers, **_errors(errors or {})}, **extra}


_LEAVE = _obj(
    {
        "id": _INT,
        "meeting_id": _INT,
        "meeting_title": _STR,
        "meeting_start": _TIME,
        "member_id": _INT,
        "member_name": _STR,
        "reason": _STR,
        "status": {"type": "string", "enum": ["requested", "approved", "refused"]},
        "requested_at": _TIME,
        "decided_at": _NULL_TIME,
        "decided_by_id": {"type": "integer", "nullable": True},
        "decision_reason": {"type": "string", "nullable": True},
        "before_start": {
            "type": "boolean",
            "description": "The meeting has not started: the request may still be decided.",
        },
    }
)
_ONE_LEAVE = _obj({"leave_request": _LEAVE})
_CODE = _obj(
    {"code": {"type": "string", "pattern": "^[0-9]{6}$"}, "site_id": _INT, "expires_at": _TIME}
)
_ROLL = _obj(
    {
        "rollcall": _obj(
            {
                "meeting_id": _INT,
                "site_id": _INT,
                "live": _BOOL,
                "members": {
                    "type": "array",
                    "items": _obj(
                        {
                            "member_id": _INT,
                            "name": _STR,
                            "role": {"type": "string", "enum": ["expected", "observer", "exempt"]},
                            "checked_in": _BOOL,
                        }
                    ),
                },
                "code": {**_CODE, "nullable": True},
            }
        )
    }
)
_NOTE = _obj(
    {
        "id": _INT,
        "kind": _STR,
        "text": {"type": "string", "description": "in the caller's language"},
        "link": {"type": "string", "nullable": True},
        "payload": {"type": "object", "additionalProperties": True},
        "created_at": _TIME,
        "read_at": _NULL_TIME,
    }
)
_NEXT = {"type": "integer", "nullable": True, "description": "offset of the next page, if any"}
_PAGE = [
    _query("limit", "int", "Page size, 1-200 (50 by default)."),
    _query("offset", "int", "Items to skip (0 by default)."),
]
_SITE_ID = {
    "type": "integer",
    "description": "A site of the meeting (managers; a terminal "
    "may only name its own). The first site of the meeting by default.",
}


def leave_paths() -> dict[str, Any]:
    scope = {
        "name": "scope",
        "in": "query",
        "required": False,
        "schema": {"type": "string", "enum": ["mine", "managed"]},
        "description": "mine: the caller's own requests (default for members); managed: those "
        "the caller decides (default for secretaries and organisers; 403 for members).",
    }
    status = {
        "name": "status",
        "in": "query",
        "required": False,
        "schema": {"type": "string", "enum": ["requested", "approved", "refused"]},
    }
    return {
        f"{API}/leave-requests": {
            "get": _op(
                "Leave requests: my own, or those of the meetings I manage (secretaries: host "
                "org in their subtree; organisers: all). Site terminals: 403.",
                {
                    "200": _answer(
                        "OK",
                        _obj(
                            {
                                "leave_requests": {"type": "array", "items": _LEAVE},
                                "scope": {"type": "string", "enum": ["mine", "managed"]},
                                "next_offset": _NEXT,
                            }
                        ),
                    )
                },
                parameters=[scope, status, *_PAGE],
            )
        },
        f"{API}/leave-requests/{{id}}": {
            "get": _op(
                "One leave request (its member, or a manager of its meeting; 404 otherwise)",
                {"200": _answer("OK", _ONE_LEAVE)},
                parameters=_ID,
            )
        },
        f"{API}/leave-requests/{{id}}/decision": {
            "post": _op(
                "Approve or refuse before the meeting starts (secretaries of the host org's "
                "subtree, organisers; members 403; outside the scope 404). A later decision "
                "replaces an earlier one. Refusing needs a reason.",
                {"200": _answer("Decided", _ONE_LEAVE)},
                {"400": "Invalid input, or the meeting has started (`meeting_started`)."},
                parameters=_ID,
                requestBody=_body(
                    {
                        "decision": {"type": "string", "enum": ["approve", "refuse"]},
                        "reason": {"type": "string", "maxLength": 200},
                    },
                    ["decision"],
                ),
            )
        },
        f"{API}/meetings/{{id}}/leave-requests": {
            "post": _op(
                "Ask for leave from a meeting I can see and am expected at, before it starts "
                "(members; one open request per meeting: 409)",
                {"201": _answer("Asked", _ONE_LEAVE)},
                {
                    "400": "Invalid input; `meeting_started`; `member-not-expected`.",
                    "409": "An open (requested or approved) request exists.",
                },
                parameters=_ID,
                requestBody=_body({"reason": {"type": "string", "maxLength": 500}}, ["reason"]),
            )
        },
    }


def rollcall_paths() -> dict[str, Any]:
    site_query = {"name": "site_id", "in": "query", "required": False, "schema": _SITE_ID}
    host = (
        " (the terminal of a site in the meeting: its own site only, 403 for another; "
        "managers of the meeting: any of its sites; members 403)"
    )
    return {
        f"{API}/meetings/{{id}}/rollcall": {
            "get": _op(
                "The expected members with their check-in state at the site, and the current "
                "code" + host,
                {"200": _answer("OK", _ROLL)},
                parameters=[*_ID, site_query],
            ),
            "post": _op(
                "Check members in or out at the site while the meeting is live" + host,
                {"200": _answer("Done; the roll as it is now", _ROLL)},
                {"400": "Invalid input; `not_live`; `not_expected` (not on the list)."},
                parameters=_ID,
                requestBody=_body(
                    {
                        "action": {"type": "string", "enum": ["check_in", "check_out"]},
                        "member_ids": {"type": "array", "items": _INT, "maxItems": 500},
                        "site_id": _SITE_ID,
                    },
                    ["action", "member_ids"],
                ),
            ),
        },
        f"{API}/meetings/{{id}}/rollcall/code": {
            "post": _op(
                "Show a new six-digit code for the site while the meeting is live" + host,
                {"201": _answer("Created", _obj({"code": _CODE}))},
                parameters=_ID,
                requestBody=_body({"site_id": _SITE_ID}, []),
            )
        },
        f"{API}/meetings/{{id}}/checkin": {
            "post": _op(
                "Confirm the code shown at the site I am at (members, on their phones). "
                "Confirming twice changes nothing (`already`).",
                {
                    "200": _answer(
                        "Checked in",
                        _obj({"checked_in": _BOOL, "site_id": _INT, "already": _BOOL}),
                    )
                },
                {
                    "400": "`invalid_code`, `unknown_site`, `not_live`, `code_unknown`, "
                    "`code_expired`, `code_other_site` (a code of another site), "
                    "`member-not-expected`."
                },
                parameters=_ID,
                requestBody=_body(
                    {"code": {"type": "string", "pattern": "^[0-9]{6}$"}, "site_id": _INT},
                    ["code", "site_id"],
                ),
            )
        },
    }


def inbox_paths() -> dict[str, Any]:
    unread = _obj({"unread": _INT})
    marked = _obj({"marked": _INT, "unread": _INT})
    return {
        f"{API}/notifications": {
            "get": _op(
                "My notifications, newest first (every account)",
                {
                    "200": _answer(
                        "OK",
                        _obj(
                            {
                                "notifications": {"type": "array", "items": _NOTE},
                                "total": _INT,
                                "unread": _INT,
                                "next_offset": _NEXT,
                            }
                        ),
                    )
                },
                parameters=_PAGE,
            )
        },
        f"{API}/notifications/unread-count": {
            "get": _op("How many of my notifications are unread", {"200": _answer("OK", unread)})
        },
        f"{API}/notifications/{{id}}/read": {
            "post": _op(
                "Mark one of my notifications read (another's: 404)",
                {"200": _answer("OK", marked)},
                parameters=_ID,
            )
        },
        f"{API}/notifications/read": {
            "post": _op("Mark all my notifications read", {"200": _answer("OK", marked)})
        },
    }


def attendance_paths() -> dict[str, Any]:
    return {
        **leave_paths(),
        **rollcall_paths(),
        **inbox_paths(),
        f"{API}/reports/members/{{id}}": _get(
            "A member's attendance in a year: every meeting expected of them, study hours "
            "(live and replay apart) against the target, twelve months "
            "(the member themself, secretaries of their subtree, organisers)",
            [_query("year", "int", "Calendar year; this year by default.")],
        ),
        f"{API}/reports/units/{{id}}": _get(
            "An org's subtree over a period: counts, attendance rate and completion rate "
            "(apart), per meeting, per member, flagged members, by month "
            "(secretaries of the subtree, organisers)",
            [
                _query("from", "date", "First day; 1 January of this year by default."),
                _query("to", "date", "Last day (inclusive); 31 December by default."),
            ],
        ),
        f"{API}/reports/meetings/{{id}}": _get(
            "A meeting's roll with statuses, join and leave times, sites and counts "
            "(secretaries of the host org's subtree, organisers)",
            [],
        ),
    }
