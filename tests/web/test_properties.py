"""Property tests for the input boundaries: redirects, roster rows, form ids."""

from __future__ import annotations

import datetime as dt

from hypothesis import given, settings
from hypothesis import strategies as st

from models.roster import RosterFileError, parse_rows
from web.forms import Form
from web.views.auth import safe_next

HEADER = ["姓名", "类别", "所在支部", "申请入党日期", "入党日期", "转正日期", "职务", "单位"]
cells = st.one_of(
    st.none(), st.text(max_size=30), st.integers(), st.floats(allow_nan=True), st.dates()
)


# No deadline: the machine running the tests is shared and its timing is noisy.
@settings(deadline=None)
@given(st.text(max_size=60))
def test_safe_next_only_ever_gives_a_local_path(value: str) -> None:
    target = safe_next(value)
    assert target.startswith("/")
    assert not target.startswith("//")
    assert "\\" not in target
    assert "://" not in target.split("?", 1)[0] or target == "/"


@settings(deadline=None, max_examples=100)
@given(st.lists(st.lists(cells, max_size=10), min_size=1, max_size=8))
def test_any_roster_rows_give_rows_or_row_errors_never_a_crash(rows: list[list[object]]) -> None:
    try:
        good, errors = parse_rows([HEADER, *rows], today=dt.date(2026, 1, 1))
    except RosterFileError:
        return
    numbers = {row.row for row in good} | {error.row for error in errors}
    assert numbers <= set(range(2, len(rows) + 2))
    assert not {row.row for row in good} & {error.row for error in errors}


@settings(deadline=None)
@given(st.lists(st.one_of(st.integers(), st.text(max_size=12), st.booleans()), max_size=8))
def test_id_lists_are_positive_ints_or_a_field_error(values: list[object]) -> None:
    form = Form({"ids": values})
    ids = form.ids("ids")
    if ids is None:
        assert "ids" in form.errors
    else:
        assert all(isinstance(i, int) and 0 < i < 2**31 for i in ids)
        assert ids == sorted(set(ids))
