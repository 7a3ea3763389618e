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


def attendance_paths() -> dict[str, Any]:
    return {
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
