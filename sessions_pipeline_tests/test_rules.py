"""The session rules of DESIGN, one awkward case per test, on the pure function."""

from __future__ import annotations

import re
from collections.abc import Collection, Sequence
from datetime import datetime, timedelta

import polars as pl
import pytest

from sessions_pipeline.rules.sessions import SessionParameters, compute_sessions
from sessions_pipeline_tests.levelup_files import Match, matches_at, matches_frame
from sessions_pipeline_tests.sessions_reference import R1, R2, T0

F1, F2 = "2533274800000001", "2533274800000002"
R3 = "2533274899999993"
FRIENDS = (F1, F2)

Break = tuple[str, int, str | None]
"""(match_id, session_id, break_reason)"""


def compute(
    matches: Sequence[Match] | pl.DataFrame,
    *,
    gap_minutes: int = 120,
    friends: Collection[str] = (),
    time_zone: str = "Europe/Paris",
    first_session_id: int = 0,
) -> pl.DataFrame:
    params = SessionParameters(gap_minutes, frozenset(friends), time_zone)
    return compute_sessions(matches_frame(matches), params, first_session_id=first_session_id)


def breaks(matches: Sequence[Match], **kwargs: object) -> list[Break]:
    """Ids and reasons only: what most rules are about."""
    return compute(matches, **kwargs).select("match_id", "session_id", "break_reason").rows()


def labels(matches: Sequence[Match], **kwargs: object) -> list[str]:
    """One label per session, oldest first."""
    return compute(matches, **kwargs)["session_label"].unique(maintain_order=True).to_list()


def every_ten_minutes(signatures: Sequence[str | None]) -> list[Match]:
    """Matches close enough that only teammates can break the session."""
    return matches_at(T0, [10 * index for index in range(len(signatures))], signatures=signatures)


def at_utc(*starts: datetime) -> list[Match]:
    return [(f"m{index}", start, None) for index, start in enumerate(starts)]


# ---------------------------------------------------------------- order, ids, gap


def test_first_match_opens_session_zero_and_ids_ascend_by_one_per_break() -> None:
    assert breaks(matches_at(T0, [0, 200, 201, 400])) == [
        ("m0", 0, "first"),
        ("m1", 1, "gap"),
        ("m2", 1, None),
        ("m3", 2, "gap"),
    ]


@pytest.mark.parametrize("row_order", [["b", "a"], ["a", "b"]], ids=["b-first", "a-first"])
def test_equal_start_times_are_ordered_by_match_id(row_order: list[str]) -> None:
    """Two matches at the same instant: the lower match_id comes first, whatever the rows."""
    signature = {"a": R1, "b": R2}
    matches = [(match_id, T0, signature[match_id]) for match_id in row_order]
    assert breaks(matches) == [("a", 0, "first"), ("b", 1, "teammates_changed")]


def test_gap_of_exactly_gap_minutes_is_no_break() -> None:
    assert breaks(at_utc(T0, T0 + timedelta(minutes=120))) == [("m0", 0, "first"), ("m1", 0, None)]


def test_gap_of_one_second_more_than_gap_minutes_breaks() -> None:
    matches = at_utc(T0, T0 + timedelta(minutes=120, seconds=1))
    assert breaks(matches) == [("m0", 0, "first"), ("m1", 1, "gap")]


def test_gap_minutes_is_a_parameter() -> None:
    matches = at_utc(T0, T0 + timedelta(minutes=30), T0 + timedelta(minutes=61))
    assert [reason for _, _, reason in breaks(matches, gap_minutes=30)] == ["first", None, "gap"]


def test_gap_is_reported_before_any_teammate_reason() -> None:
    matches = matches_at(T0, [0, 121], signatures=[F1, F2])
    assert breaks(matches, friends=FRIENDS)[1] == ("m1", 1, "gap")


# ---------------------------------------------------------------- teammates as a set


def test_empty_null_and_blank_signatures_all_mean_no_teammates() -> None:
    matches = every_ten_minutes(["", None, " , ", ",", "   ", None])
    assert {session_id for _, session_id, _ in breaks(matches)} == {0}


def test_no_teammates_then_some_is_a_change() -> None:
    assert breaks(every_ten_minutes([" , ", R1]))[1] == ("m1", 1, "teammates_changed")


def test_unsorted_spaced_and_repeated_signatures_are_the_same_set() -> None:
    signatures = [f"{R1},{R2}", f" {R2} , {R1} ", f"{R2},{R1},{R1}", f",{R1},,{R2}, "]
    assert {session_id for _, session_id, _ in breaks(every_ten_minutes(signatures))} == {0}


def test_missing_signature_column_breaks_on_the_gap_only() -> None:
    frame = matches_frame(matches_at(T0, [0, 10, 200])).drop("teammates_signature")
    result = compute_sessions(frame, SessionParameters())
    assert result["break_reason"].to_list() == ["first", None, "gap"]


# ---------------------------------------------------------------- with a friends set


def test_friend_swapped_for_another_is_friend_joined() -> None:
    matches = every_ten_minutes([f"{F1},{R1}", f"{F2},{R1}"])
    assert breaks(matches, friends=FRIENDS)[1] == ("m1", 1, "friend_joined")


def test_friend_joining_a_friend_is_friend_joined() -> None:
    matches = every_ten_minutes([F1, f"{F2},{F1}"])
    assert breaks(matches, friends=FRIENDS)[1] == ("m1", 1, "friend_joined")


def test_friend_leaving_while_another_stays_is_no_break() -> None:
    matches = every_ten_minutes([f"{F1},{F2}", F1])
    assert breaks(matches, friends=FRIENDS)[1] == ("m1", 0, None)


def test_going_solo_and_back_is_went_solo_then_friend_joined() -> None:
    """Solo means no friend: randoms may still be there."""
    matches = every_ten_minutes([F1, R1, "", F1])
    assert breaks(matches, friends=FRIENDS) == [
        ("m0", 0, "first"),
        ("m1", 1, "went_solo"),
        ("m2", 1, None),
        ("m3", 2, "friend_joined"),
    ]


def test_randoms_changing_with_friends_is_no_break() -> None:
    matches = every_ten_minutes([f"{F1},{R1}", f"{F1},{R2},{R3}", F1])
    assert {session_id for _, session_id, _ in breaks(matches, friends=FRIENDS)} == {0}


def test_randoms_changing_with_no_friend_present_is_no_break() -> None:
    matches = every_ten_minutes([R1, R2, f"{R2},{R3}", ""])
    assert {session_id for _, session_id, _ in breaks(matches, friends=FRIENDS)} == {0}


def test_randoms_changing_with_an_empty_friends_set_is_teammates_changed() -> None:
    matches = every_ten_minutes([f"{F1},{R1}", f"{F1},{R2}", f"{R2},{F1}"])
    assert breaks(matches) == [
        ("m0", 0, "first"),
        ("m1", 1, "teammates_changed"),
        ("m2", 1, None),
    ]


# ---------------------------------------------------------------- labels

LABEL = re.compile(r"\d{2}/\d{2}/\d{4} \d{2}:\d{2}\u2013\d{2}:\d{2} \(\d+\)")


def test_label_is_first_date_and_time_en_dash_last_time_and_count() -> None:
    [label] = labels(matches_at(T0, [0, 35, 70]))
    assert label == "07/02/2026 20:00\u201321:10 (3)"
    assert LABEL.fullmatch(label)


def test_label_is_on_every_row_of_its_session() -> None:
    result = compute(matches_at(T0, [0, 35, 300]))
    assert result["session_label"].to_list() == [
        "07/02/2026 20:00\u201320:35 (2)",
        "07/02/2026 20:00\u201320:35 (2)",
        "08/02/2026 01:00\u201301:00 (1)",
    ]


def test_session_across_midnight_takes_the_date_of_its_first_match() -> None:
    matches = at_utc(datetime(2026, 2, 7, 22, 30), datetime(2026, 2, 7, 23, 40))
    assert labels(matches) == ["07/02/2026 23:30\u201300:40 (2)"]


def test_session_across_spring_dst_measures_the_gap_in_real_time() -> None:
    """01:30 CET to 04:20 CEST on 2026-03-29 is 110 minutes, not 170: one session."""
    matches = at_utc(datetime(2026, 3, 29, 0, 30), datetime(2026, 3, 29, 2, 20))
    assert labels(matches) == ["29/03/2026 01:30\u201304:20 (2)"]


def test_session_across_autumn_dst_is_labelled_in_local_time() -> None:
    """02:30 CEST then 02:10 CET on 2026-10-25: 40 minutes later, the clock went back."""
    matches = at_utc(datetime(2026, 10, 25, 0, 30), datetime(2026, 10, 25, 1, 10))
    assert labels(matches) == ["25/10/2026 02:30\u201302:10 (2)"]


def test_autumn_dst_gap_is_in_real_time_not_wall_clock() -> None:
    """01:50 CEST to 03:00 CET reads as 70 minutes but is 130: a gap break."""
    matches = at_utc(datetime(2026, 10, 24, 23, 50), datetime(2026, 10, 25, 2, 0))
    assert labels(matches) == ["25/10/2026 01:50\u201301:50 (1)", "25/10/2026 03:00\u201303:00 (1)"]


@pytest.mark.parametrize(
    ("time_zone", "label"),
    [
        ("America/New_York", "07/02/2026 14:00\u201314:35 (2)"),
        ("Asia/Kolkata", "08/02/2026 00:30\u201301:05 (2)"),
        ("UTC", "07/02/2026 19:00\u201319:35 (2)"),
    ],
)
def test_label_time_zone_is_a_parameter(time_zone: str, label: str) -> None:
    assert labels(matches_at(T0, [0, 35]), time_zone=time_zone) == [label]


# ---------------------------------------------------------------- input shapes


def test_timestamptz_input_is_read_as_its_instant() -> None:
    """A zoned start time is the instant it names; output start times are naive UTC."""
    naive = matches_frame(matches_at(T0, [0, 100, 221], signatures=[R1, R1, R2]))
    tokyo = naive.with_columns(
        pl.col("start_time").dt.replace_time_zone("UTC").dt.convert_time_zone("Asia/Tokyo")
    )
    assert compute(tokyo).equals(compute(naive))
    assert compute(tokyo)["start_time"].dtype == pl.Datetime("us")


def test_null_start_times_are_left_out() -> None:
    matches = [*matches_at(T0, [0, 10]), ("late", None, R1)]
    assert breaks(matches) == [("m0", 0, "first"), ("m1", 0, None)]


def test_empty_timeline_gives_an_empty_frame_with_session_columns() -> None:
    result = compute([])
    assert result.is_empty()
    assert result.schema["session_id"] == pl.Int64
    assert result.schema["session_label"] == pl.String
    assert result.schema["break_reason"] == pl.String


def test_first_session_id_offsets_the_numbering() -> None:
    result = compute(matches_at(T0, [0, 300]), first_session_id=7)
    assert result["session_id"].to_list() == [7, 8]


def test_other_columns_come_through_with_their_rows() -> None:
    frame = matches_frame([("b", T0 + timedelta(minutes=5), None), ("a", T0, None)])
    result = compute(frame.with_columns(kills=pl.Series([5, 3])))
    assert result.select("match_id", "kills").rows() == [("a", 3), ("b", 5)]


def test_gap_minutes_must_be_positive() -> None:
    with pytest.raises(ValueError, match="gap_minutes"):
        SessionParameters(gap_minutes=0)


@pytest.mark.parametrize("field", ["label_time_zone", "start_time_zone"])
@pytest.mark.parametrize("zone", ["Europe/Atlantis", "", "../../etc/passwd", "Paris"])
def test_an_unknown_zone_is_refused_naming_the_field_and_the_value(field: str, zone: str) -> None:
    with pytest.raises(ValueError, match=f"{field} '{re.escape(zone)}' is not an IANA"):
        SessionParameters(**{field: zone})


@pytest.mark.parametrize("mode", ["random", "Friends", ""])
def test_an_unknown_team_change_mode_is_refused_naming_the_modes(mode: str) -> None:
    with pytest.raises(ValueError, match=f"team_change_mode '{mode}' is not one of friends, group"):
        SessionParameters(team_change_mode=mode)
