"""The reports as JSON for ``/api/v1/reports/...``: the report dataclasses as plain values,
rates included, decimals as strings."""

from __future__ import annotations

import dataclasses
import datetime as dt
import enum
from decimal import Decimal
from typing import Any

from models.attendance.member_report import MemberReport
from models.attendance.tally import Counts
from models.attendance.unit_report import UnitReport


def jsonable(value: Any) -> Any:
    if isinstance(value, Counts):
        out = {k: jsonable(v) for k, v in dataclasses.asdict(value).items()}
        out["attendance_rate"] = value.attendance_rate
        out["completion_rate"] = value.completion_rate
        return out
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: jsonable(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    return value


def member_json(r: MemberReport) -> dict[str, Any]:
    out = jsonable(r)
    out["total_hours"] = str(r.total_hours)
    out["target_met"] = r.target_met
    return {"report": out}


def unit_json(r: UnitReport) -> dict[str, Any]:
    out = jsonable(r)
    out["months"] = [{"month": m, "counts": jsonable(c)} for m, c in r.months]
    return {"report": out}
