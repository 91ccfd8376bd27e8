"""Properties of the rules: equal to a literal reference, and restartable at any session."""

from __future__ import annotations

import polars as pl
from hypothesis import given, settings
from hypothesis import strategies as st

from sessions_pipeline.rules.sessions import (
    SessionParameters,
    compute_sessions,
    in_timeline_order,
    teammate_columns,
)
from sessions_pipeline_tests.levelup_files import Match, matches_frame
from sessions_pipeline_tests.sessions_reference import (
    reference_sessions,
    session_parameters,
    session_values,
    timelines,
)

RULES = settings(max_examples=200, deadline=None)


@RULES
@given(matches=timelines(), params=session_parameters)
def test_vectorised_rules_equal_the_one_match_at_a_time_reference(
    matches: list[Match], params: SessionParameters
) -> None:
    computed = compute_sessions(matches_frame(matches), params)
    columns = ("match_id", "start_time", "session_id", "session_label", "break_reason")
    assert computed.select(columns).rows() == reference_sessions(matches, params)


@RULES
@given(matches=timelines(min_size=1), params=session_parameters, data=st.data())
def test_recomputing_from_any_session_start_equals_computing_from_the_beginning(
    matches: list[Match], params: SessionParameters, data: st.DataObject
) -> None:
    """What the store and reader rely on to recompute only the tail.

    The restarted row's reason is `first` there; its id and label are the same.
    """
    full = compute_sessions(matches_frame(matches), params)
    if full.is_empty():
        return
    starts = full.with_row_index().filter(pl.col("break_reason").is_not_null())
    start, first_session_id = data.draw(
        st.sampled_from(starts.select("index", "session_id").rows())
    )
    tail = full.slice(start).select("match_id", "start_time", "teammates_signature")
    restarted = compute_sessions(tail, params, first_session_id=first_session_id)
    assert session_values(restarted).equals(session_values(full.slice(start)))
    assert restarted["break_reason"][1:].equals(full["break_reason"][start + 1 :])


@RULES
@given(matches=timelines(), params=session_parameters)
def test_teammate_columns_computed_beforehand_and_no_reasons_give_the_same_sessions(
    matches: list[Match], params: SessionParameters
) -> None:
    """What the reader does: the rules' columns computed as the file is read, in place of
    the signatures, and no reason named."""
    frame = matches_frame(matches)
    read_like = frame.with_columns(teammate_columns(params)).drop("teammates_signature")
    lean = compute_sessions(read_like, params, with_break_reasons=False)
    assert lean.columns == ["match_id", "start_time", "session_id", "session_label"]
    assert session_values(lean).equals(session_values(compute_sessions(frame, params)))


@RULES
@given(matches=timelines())
def test_in_timeline_order_is_a_sort_that_leaves_an_ordered_frame_as_it_is(
    matches: list[Match],
) -> None:
    frame = matches_frame(matches).drop_nulls("start_time")
    ordered = frame.sort("start_time", "match_id")
    assert in_timeline_order(frame).equals(ordered)
    assert in_timeline_order(ordered) is ordered
