"""The sessions dashboard: a player's sessions as frozen in its file, and why each started.

`sessions-pipeline dashboard` runs `streamlit run` on this file. The page only reads, and
shows what the file holds with the parameters it was stored with: there is no gap slider
and no friends picker, because a view cut with other parameters than the stored ones
would disagree with every other reader of the file. The chosen player is in the URL
(`?player=<gamertag>`), so a link opens that player.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import altair as alt
import polars as pl
import streamlit as st

from sessions_pipeline.errors import FILE_ERRORS, SessionsPipelineError
from sessions_pipeline.levelup.app_root import AppRoot, Player
from sessions_pipeline.levelup.friends import FriendsResolution, resolve_friends
from sessions_pipeline.levelup.overview import (
    PARTLY_STORED,
    RECENT,
    STORED,
    PlayerOverview,
    read_overview,
)
from sessions_pipeline.rules.planning import utc_naive_now
from sessions_pipeline.rules.sessions import BreakReason, describe_parameters

PLAYER_PARAM = "player"
# Player file versions whose read stays cached; old versions fall out.
CACHED_FILES = 32
# One colour per break reason, distinct on the dark theme; "?" is a session no rule explains.
_REASON_COLOURS = {
    BreakReason.FIRST.value: "#9AA5B1",
    BreakReason.GAP.value: "#4C9BE8",
    BreakReason.FRIEND_JOINED.value: "#6CC24A",
    BreakReason.WENT_SOLO.value: "#F2A93B",
    BreakReason.TEAMMATES_CHANGED.value: "#C678DD",
    BreakReason.RANKED_CHANGED.value: "#56B6C2",
    "?": "#E06C75",
}
_STORED_SHAPES = {STORED: "circle", PARTLY_STORED: "triangle-up", RECENT: "diamond"}
# A URL value is echoed in a message at most this long; the rest is cut.
URL_VALUE_SHOWN = 60
# Control, format (bidi overrides, zero-width) and line/paragraph separator characters.
_ESCAPED_CATEGORIES = frozenset({"Cc", "Cf", "Zl", "Zp"})


def file_version(path: Path) -> tuple[str, int, int, int, int]:
    """What identifies a player file's content without reading it: path, size and
    modification time of the file and of its write-ahead log (a store that has not been
    checkpointed yet changes only the .wal)."""
    wal = path.with_name(path.name + ".wal")
    stat = path.stat()
    wal_stat = wal.stat() if wal.exists() else None
    return (
        str(path),
        stat.st_size,
        stat.st_mtime_ns,
        wal_stat.st_size if wal_stat else -1,
        wal_stat.st_mtime_ns if wal_stat else -1,
    )


@st.cache_resource(max_entries=CACHED_FILES, show_spinner="Reading the player file…")
def _cached_overview(
    version: tuple[str, int, int, int, int], minute: datetime, player: Player | None
) -> PlayerOverview:
    # cache_resource, not cache_data: a hit hands back the same immutable frames instead of
    # unpickling a copy of every match, which would cost a fair part of a fresh read.
    return read_overview(version[0], now=minute, player=player)


def read_player_file(
    path: Path, *, now: datetime | None = None, player: Player | None = None
) -> PlayerOverview:
    """The page's read: cached per file version and per minute of `now` (default: the clock).

    The minute is in the key because the 4-hour stability threshold moves with the clock:
    a match that crosses it changes what the page must say, though the file did not change.
    """
    minute = utc_naive_now(now).replace(second=0, microsecond=0)
    return _cached_overview(file_version(path), minute, player)


@st.cache_resource(max_entries=CACHED_FILES, show_spinner=False)
def _cached_friends(
    root: str,
    title: str,
    gamertag: str,
    friends_version: tuple[str, int, int, int, int] | None,
    player_version: tuple[str, int, int, int, int],
) -> FriendsResolution:
    app_root = AppRoot(Path(root), title)
    return resolve_friends(app_root, app_root.player(gamertag))


def current_friends(root: AppRoot, player: Player) -> FriendsResolution:
    """The friends a store would use now (friends_defaults.json, else top-2), cached until
    the friends file or the player file changes."""
    friends_file = root.friends_file
    friends_version = file_version(friends_file) if friends_file.exists() else None
    return _cached_friends(
        str(root.path), root.title, player.gamertag, friends_version, file_version(player.db_path)
    )


def _code(text: object) -> str:
    """Text from a file, a path or the URL as a Markdown code span: shown as written, never
    read as Markdown (an underscore pair in a path would turn into italics, a link would
    become clickable)."""
    text = str(text)
    fence = "`" * (max((len(run) for run in re.findall("`+", text)), default=0) + 1)
    return f"{fence} {text} {fence}"


def _from_url(value: str) -> str:
    """A value from the URL as a message shows it: cut to URL_VALUE_SHOWN characters (anyone
    can send a link), invisible and control characters as escapes (a blank line would end
    the code span and let the rest render as Markdown, a link or an image)."""
    cut = value[:URL_VALUE_SHOWN]
    shown = "".join(
        ascii(ch)[1:-1] if unicodedata.category(ch) in _ESCAPED_CATEGORIES else ch for ch in cut
    )
    return shown + ("…" if len(value) > URL_VALUE_SHOWN else "")


def _local(column: str, time_zone: str) -> pl.Expr:
    """A naive UTC column as naive wall-clock time in the labels' zone, for display."""
    return (
        pl.col(column)
        .dt.replace_time_zone("UTC")
        .dt.convert_time_zone(time_zone)
        .dt.replace_time_zone(None)
    )


def _choose_player(gamertags: Sequence[str], root: AppRoot) -> str:
    """The picker, starting on the URL's player; the URL follows the picker."""
    wanted = st.query_params.get(PLAYER_PARAM)
    index = 0
    if wanted is not None:
        exact = [g for g in gamertags if g == wanted]
        folded = [g for g in gamertags if g.casefold() == wanted.casefold()]
        found = exact or (folded if len(folded) == 1 else [])
        if found:
            index = list(gamertags).index(found[0])
        else:
            asked = (
                f"asks for player {_code(_from_url(wanted))}, who is not in {_code(root.path)}"
                if wanted.strip()
                else f"leaves {_code(PLAYER_PARAM + '=')} blank"
            )
            st.error(f"The link {asked}. Showing {_code(gamertags[0])}; pick another player below.")
    chosen = st.selectbox("Player", gamertags, index=index, key=PLAYER_PARAM)
    st.query_params[PLAYER_PARAM] = chosen
    return chosen


def _hints(overview: PlayerOverview, gamertag: str) -> None:
    """Say plainly when what is shown is not (all) what the file holds."""
    if overview.recorded is None:
        st.info(
            "The pipeline has never stored this file: every session below is computed on "
            f"the fly with the default parameters (gap {overview.params.gap_minutes} min, "
            "no friends set, start times as "
            f"{overview.params.start_time_zone} wall clock). A store would use the player's "
            "friends and the root's LevelUp settings."
        )
    unstored = overview.unstored_stable_matches
    if unstored:
        matches = f"{unstored:,} matches older than" if unstored > 1 else "1 match older than"
        st.warning(
            f"{matches} {overview.stability_hours:g} h {'are' if unstored > 1 else 'is'} not "
            "stored in the file yet; shown computed on the fly. To store it all, run "
            f"{_code(f'sessions-pipeline backfill --gamertag {gamertag}')}."
        )


def _counts(overview: PlayerOverview) -> None:
    sessions, stored, computed, recent = st.columns(4)
    sessions.metric("Sessions", f"{len(overview.summary):,}")
    stored.metric("Matches stored", f"{overview.stored_matches:,}")
    computed.metric("Computed on the fly", f"{overview.computed_matches:,}")
    recent.metric("Recent sessions", f"{(overview.summary['stored'] == RECENT).sum():,}")


def _chart(table: pl.DataFrame) -> alt.LayerChart:
    """Sessions over time: matches per session, coloured by why it started; sessions not
    (all) frozen in the file yet are ringed, so the open tail stands out."""
    legend = {"orient": "bottom", "symbolFillColor": "#E6EDF3", "symbolStrokeColor": "#E6EDF3"}
    # The times are wall-clock times already: a UTC scale shows them as they are.
    x = alt.X("started:T", title="session start", scale=alt.Scale(type="utc", padding=16))
    y = alt.Y("matches:Q", title="matches in the session", scale=alt.Scale(padding=12))
    base = alt.Chart(table.to_pandas(), title="Sessions over time")
    points = base.mark_point(filled=True, size=60, opacity=0.85).encode(
        x=x,
        y=y,
        color=alt.Color(
            "why it started:N",
            scale=alt.Scale(domain=list(_REASON_COLOURS), range=list(_REASON_COLOURS.values())),
            legend=alt.Legend(orient="bottom"),
        ),
        shape=alt.Shape(
            "stored:N",
            scale=alt.Scale(domain=list(_STORED_SHAPES), range=list(_STORED_SHAPES.values())),
            legend=alt.Legend(**legend),
        ),
        tooltip=["label:N", "matches:Q", "why it started:N", "stored:N"],
    )
    open_tail = (
        base.transform_filter(alt.datum.stored != STORED)
        .mark_point(size=320, filled=False, strokeWidth=2, color="#E6EDF3")
        .encode(x=x, y=y, tooltip=["label:N", "stored:N"])
    )
    return alt.layer(points, open_tail).interactive(bind_y=False)


def _sessions_table(overview: PlayerOverview) -> pl.DataFrame:
    """One row per session, newest first, with the words `show` uses."""
    return overview.summary.select(
        pl.col("session_id").alias("id"),
        pl.col("session_label").alias("label"),
        "matches",
        pl.col("break_reason").fill_null("?").alias("why it started"),
        "stored",
        _local("first_start", overview.params.label_time_zone).alias("started"),
    )


def _session_matches(overview: PlayerOverview, table: pl.DataFrame, gamertag: str) -> None:
    labels = dict(zip(table["id"], table["label"], strict=True))
    chosen = st.selectbox(
        "Session",
        list(labels),
        format_func=lambda session_id: labels[session_id],
        key=f"session-{gamertag}",  # a new player starts on its newest session
    )
    if chosen is None:
        return
    started = f"started ({overview.params.label_time_zone})"
    matches = overview.sessions.filter(pl.col("session_id") == chosen).select(
        "match_id",
        _local("start_time", overview.params.label_time_zone).alias(started),
        pl.when("is_stored").then(pl.lit("yes")).otherwise(pl.lit(RECENT)).alias("stored"),
    )
    st.dataframe(
        matches,
        hide_index=True,
        width="stretch",
        column_config={started: st.column_config.DatetimeColumn(format="DD/MM/YYYY HH:mm:ss")},
    )


def _friend_names(xuids: frozenset[str], names: dict[str, str]) -> str:
    ordered = sorted(xuids, key=lambda xuid: (names.get(xuid, "").casefold(), xuid))
    return ", ".join(f"{names.get(xuid, '?')} ({xuid})" for xuid in ordered) or "none"


def _parameters(overview: PlayerOverview, root: AppRoot, player: Player) -> None:
    """What the stored values were cut with, and whether a store would cut them the same."""
    recorded = overview.recorded
    params = overview.params
    zone = params.label_time_zone
    stored_at = (
        recorded.stored_at.replace(tzinfo=UTC).astimezone(ZoneInfo(zone)).strftime("%d/%m/%Y %H:%M")
        if recorded
        else "never"
    )
    described = describe_parameters(params, overview.sources).with_columns(
        value=pl.when(pl.col("parameter") == "friends_xuids")
        .then(pl.lit(_friend_names(params.friends_xuids, overview.friend_gamertags)))
        .otherwise("value")
    )
    when = {
        "stability_hours": f"{overview.stability_hours:g} h",
        "stored_at": f"{stored_at} ({zone})" if recorded else stored_at,
    }
    st.table(
        pl.concat(
            [
                described,
                pl.DataFrame(
                    {"parameter": list(when), "value": list(when.values()), "from": "file"}
                ),
            ]
        )
    )
    try:
        friends = current_friends(root, player)
    except FILE_ERRORS as error:
        st.error(f"Cannot tell which friends a store would use now: {_code(error)}")
        return
    if recorded and friends.xuids != params.friends_xuids:
        st.warning(
            f"The friends a store would use now ({friends.source}: "
            f"{_friend_names(friends.xuids, friends.gamertags)}) differ from those the file "
            "was stored with: the next store recomputes every session (the friends sensor "
            "does it when it is on)."
        )
    if friends.unresolved:
        unknown = ", ".join(_code(item) for item in friends.unresolved)
        st.caption(f"In friends_defaults.json but unknown to this file: {unknown}")


def render() -> None:
    """The whole page; any problem with the root or a file is a message, never a traceback."""
    st.set_page_config(page_title="Sessions · LevelUp", page_icon="🎮", layout="wide")
    st.title("Gaming sessions")
    try:
        root = AppRoot.from_env()
        gamertags = root.gamertags()
    except SessionsPipelineError as error:
        st.error(f"Cannot list the players: {_code(error)}")
        return
    if not gamertags:
        st.info(
            f"No player in {_code(root.path)}: a player is a "
            "`data/players/<gamertag>/stats.duckdb` file or a profile in `db_profiles.json`. "
            "Start the dashboard on a LevelUp root (`sessions-pipeline dashboard --root DIR`), "
            "or build the demo one with `sessions-pipeline demo`."
        )
        return
    gamertag = _choose_player(gamertags, root)
    try:
        player = root.player(gamertag)
        overview = read_player_file(player.db_path, player=player)
    except FILE_ERRORS as error:
        st.error(f"Cannot read the sessions of {_code(gamertag)}: {_code(error)}")
        return
    if overview.sessions.is_empty():
        st.info(f"{_code(player.db_path)} holds no match with a start time yet: nothing to show.")
        return
    _hints(overview, player.gamertag)
    _counts(overview)
    table = _sessions_table(overview)
    st.altair_chart(_chart(table), width="stretch")
    left, right = st.columns([3, 2])
    with left:
        st.subheader("Sessions, newest first")
        st.dataframe(table.drop("started"), hide_index=True, width="stretch", height=420)
    with right:
        st.subheader("Matches of a session")
        _session_matches(overview, table, player.gamertag)
    st.subheader("Stored with")
    _parameters(overview, root, player)


if __name__ == "__main__":
    render()
