"""A demo app root: the plan's four friends, two years of Halo evenings, one file each.

It exists so `dagster dev` from a checkout (and the tests) have realistic data to freeze:
Paris evenings that cross midnight, friends joining and leaving, long pauses inside an
evening, matches shared across files under one match_id, and a last evening younger than
the stability threshold. The same matches can be written as LevelUp v4 keeps them (each
player's `match_stats`) or as v6 and v7 do (one shared warehouse, per-player enrichment).
"""

from __future__ import annotations

import json
import os
import random
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from functools import cache
from pathlib import Path
from typing import Literal, get_args
from zoneinfo import ZoneInfo

import duckdb
import polars as pl
import polars.selectors as cs

from sessions_pipeline.errors import ConfigFileError
from sessions_pipeline.levelup.app_root import PLAYER_DB_NAME, AppRoot, read_json_document
from sessions_pipeline.levelup.sql.levelup_schema import (
    SHARED_MATCHES_DB_NAME,
    create_v4_player_tables,
    create_v5_player_tables,
    create_warehouse_tables,
    insert_frame,
)
from sessions_pipeline.rules.planning import utc_naive_now

PARIS = ZoneInfo("Europe/Paris")
DemoLayout = Literal["v6", "v4", "v7"]
HISTORY_DAYS = 730
RANDOM_POOL_SIZE = 12000

FRIENDS_DEFAULTS: dict[str, list[str]] = {
    "2533274823110022": ["Madina97294", "Chocoboflor", "XxDaemonGamerxX", "~OldSquadMate"],
    "2533274858283686": ["JGtm", "Chocoboflor", "XxDaemonGamerxX"],
    "2535469190789936": ["JGtm", "Madina97294", "XxDaemonGamerxX"],
    "2533274833178266": ["JGtm", "Madina97294", "Chocoboflor"],
}
"""The plan's friends file (section 1.3), plus an inactive ex-squad-mate in JGtm's list."""


def friends_defaults_text() -> str:
    """The friends file exactly as committed, so the repository and the demo agree."""
    return json.dumps(FRIENDS_DEFAULTS, indent=2) + "\n"


@dataclass(frozen=True)
class DemoPlayer:
    """A simulated player: how often they play decides how much history their file holds."""

    gamertag: str
    xuid: str
    evenings_per_week: float
    mmr: float
    has_file: bool = True


DEMO_PLAYERS: tuple[DemoPlayer, ...] = (
    DemoPlayer("JGtm", "2533274823110022", 3.4, 1460.0),
    DemoPlayer("Madina97294", "2533274858283686", 2.9, 1390.0),
    DemoPlayer("Chocoboflor", "2535469190789936", 2.2, 1270.0),
    DemoPlayer("XxDaemonGamerxX", "2533274833178266", 2.7, 1520.0),
)
OLD_SQUAD_MATE = DemoPlayer("OldSquadMate", "2533274800457211", 0.0, 1410.0, has_file=False)
"""JGtm's squad mate of the first months: in the files, never a file of their own."""
OLD_SQUAD_MATE_DAYS = 150


@dataclass(frozen=True)
class _Playlist:
    name: str
    team_size: int
    teams: int
    max_party: int
    ranked: bool
    weight: int
    modes: tuple[str, ...]
    maps: tuple[str, ...]
    minutes: tuple[int, int]


_ARENA_MAPS = (
    "Live Fire",
    "Recharge",
    "Streets",
    "Bazaar",
    "Aquarius",
    "Catalyst",
    "Empyrean",
    "Forbidden",
    "Argyle",
    "Solitude",
    "Cliffhanger",
    "Prism",
)
_BTB_MAPS = ("Fragmentation", "Highpower", "Deadlock", "Breaker", "Command")
_ARENA_MODES = ("Slayer", "Capture the Flag", "Oddball", "Strongholds", "King of the Hill")
_PLAYLISTS = (
    _Playlist("Quick Play", 4, 2, 4, False, 30, _ARENA_MODES, _ARENA_MAPS, (8, 14)),
    _Playlist("Ranked Arena", 4, 2, 4, True, 24, _ARENA_MODES, _ARENA_MAPS, (9, 15)),
    _Playlist("Ranked Slayer", 4, 2, 4, True, 8, ("Slayer",), _ARENA_MAPS, (8, 13)),
    _Playlist(
        "Big Team Battle",
        12,
        2,
        12,
        False,
        12,
        ("Slayer", "Capture the Flag", "Total Control", "Stockpile"),
        _BTB_MAPS,
        (11, 16),
    ),
    _Playlist("Squad Battle", 6, 2, 6, False, 6, ("Slayer", "Oddball"), _ARENA_MAPS, (9, 14)),
    _Playlist("Fiesta", 4, 2, 4, False, 6, ("Slayer",), _ARENA_MAPS, (8, 12)),
    _Playlist("Free-for-All", 1, 8, 1, False, 8, ("Slayer",), _ARENA_MAPS, (8, 12)),
)
# Winning score, per mode; BTB slayer plays to 100.
_TARGET_SCORES = {
    "Slayer": 50,
    "Capture the Flag": 3,
    "Oddball": 2,
    "Strongholds": 250,
    "King of the Hill": 4,
    "Total Control": 3,
    "Stockpile": 5,
}
_OUTCOME_TIE, _OUTCOME_WIN, _OUTCOME_LOSS = 1, 2, 3

_TAG_WORDS = (
    "Shadow",
    "Silent",
    "Crimson",
    "Frosty",
    "Rogue",
    "Lazy",
    "Turbo",
    "Cosmic",
    "Night",
    "Iron",
    "Lucky",
    "Feral",
    "Noble",
    "Spicy",
    "Atomic",
    "Hyper",
    "Salty",
    "Sneaky",
    "Grumpy",
    "Toxic",
)
_TAG_NOUNS = (
    "Spartan",
    "Wraith",
    "Grunt",
    "Elite",
    "Banshee",
    "Warthog",
    "Jackal",
    "Hunter",
    "Ghost",
    "Pelican",
    "Needler",
    "Mongoose",
    "Scorpion",
    "Brute",
    "Sentinel",
    "Oddball",
    "Gravhammer",
    "Sniper",
)


@cache
def _stable_id(kind: str, name: str) -> str:
    """A GUID per playlist or map name, identical in every file and every build."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"levelup-demo/{kind}/{name}"))


@dataclass(frozen=True)
class _Member:
    """A player's evening: the match slots they are present for, and whether they squad up."""

    player: DemoPlayer
    join: int
    leave: int
    squad: bool


@dataclass
class _Generator:
    rng: random.Random
    now: datetime
    randoms: list[tuple[str, str]] = field(default_factory=list)
    participants: list[dict[str, object]] = field(default_factory=list)
    owner_rows: dict[str, list[dict[str, object]]] = field(default_factory=dict)
    match_starts: dict[str, datetime] = field(default_factory=dict)

    def __post_init__(self) -> None:
        known = {p.xuid for p in (*DEMO_PLAYERS, OLD_SQUAD_MATE)}
        tags: set[str] = set()
        while len(self.randoms) < RANDOM_POOL_SIZE:
            prefix = self.rng.choice(("253327479", "253327480", "253327481", "253546"))
            xuid = prefix + "".join(self.rng.choices("0123456789", k=16 - len(prefix)))
            tag = (
                f"{self.rng.choice(_TAG_WORDS)} {self.rng.choice(_TAG_NOUNS)}"
                f"{self.rng.randrange(10000)}"
            )
            if xuid in known or tag in tags:
                continue
            known.add(xuid)
            tags.add(tag)
            self.randoms.append((xuid, tag))

    def _playlist(self, party_size: int) -> _Playlist:
        fitting = [
            p
            for p in _PLAYLISTS
            if p.max_party >= party_size and (party_size == 1 or p.team_size > 1)
        ]
        return self.rng.choices(fitting, weights=[p.weight for p in fitting])[0]

    def _stats_line(self, mean_kills: float, won: bool) -> tuple[int, int, int]:
        bias = 1.5 if won else -1.5
        kills = max(0, round(self.rng.gauss(mean_kills + bias, mean_kills / 3)))
        deaths = max(0, round(self.rng.gauss(mean_kills - bias, mean_kills / 3.5)))
        assists = max(0, round(self.rng.gauss(mean_kills * 0.55, mean_kills / 4)))
        return kills, deaths, assists

    def play(self, start: datetime, party: list[DemoPlayer]) -> timedelta:
        """One match of `party` (same team), filled by matchmaking; returns its duration."""
        rng = self.rng
        playlist = self._playlist(len(party))
        mode = rng.choice(playlist.modes)
        map_name = rng.choice(playlist.maps)
        duration = timedelta(seconds=rng.randint(*playlist.minutes) * 60 + rng.randrange(60))
        match_id = str(uuid.UUID(int=rng.getrandbits(128), version=4))

        party_team = rng.randrange(playlist.teams)
        seats = [
            team
            for team in range(playlist.teams)
            for _ in range(playlist.team_size - (len(party) if team == party_team else 0))
        ]
        strangers = [self.randoms[i] for i in rng.sample(range(RANDOM_POOL_SIZE), len(seats))]
        roster = [(p.xuid, p.gamertag, party_team) for p in party]
        roster += [(xuid, tag, team) for (xuid, tag), team in zip(strangers, seats, strict=True)]

        ffa = playlist.teams > 2
        winner = rng.randrange(playlist.teams)
        tie = not ffa and rng.random() < 0.02
        mean_kills = {"Fiesta": 16.0, "Big Team Battle": 13.0}.get(playlist.name, 11.0)
        if mode != "Slayer":
            mean_kills *= 0.75
        lines = {
            xuid: self._stats_line(mean_kills, won=not tie and team == winner)
            for xuid, _, team in roster
        }
        if ffa:
            winner = max(roster, key=lambda r: (lines[r[0]][0], r[0]))[2]
            team_scores = {team: lines[xuid][0] for xuid, _, team in roster}
        else:
            target = _TARGET_SCORES[mode] * (2 if playlist.name == "Big Team Battle" else 1)
            loser_score = rng.randrange(target // 3, target)
            team_scores = {
                team: target if team == winner and not tie else loser_score
                for team in range(playlist.teams)
            }
        scores = {xuid: k * 100 + a * 50 + rng.randrange(700) for xuid, (k, _, a) in lines.items()}
        ranking = sorted(scores, key=lambda xuid: (-scores[xuid], xuid))
        ranks = {xuid: place for place, xuid in enumerate(ranking, start=1)}
        outcomes = {
            xuid: _OUTCOME_TIE if tie else _OUTCOME_WIN if team == winner else _OUTCOME_LOSS
            for xuid, _, team in roster
        }

        self.match_starts[match_id] = start
        for xuid, tag, team in roster:
            kills, deaths, assists = lines[xuid]
            self.participants.append(
                {
                    "match_id": match_id,
                    "xuid": xuid,
                    "gamertag": tag,
                    "team_id": team,
                    "outcome": outcomes[xuid],
                    "rank": ranks[xuid],
                    "kills": kills,
                    "deaths": deaths,
                    "assists": assists,
                    "personal_score": scores[xuid],
                }
            )

        end = start + duration
        seconds = duration.total_seconds()
        enemy_score = max(score for team, score in team_scores.items() if team != party_team)
        for player in party:
            if not player.has_file:
                continue
            kills, deaths, assists = lines[player.xuid]
            accuracy = min(0.8, max(0.2, rng.gauss(0.47, 0.06)))
            shots_fired = rng.randint(kills * 14 + 120, kills * 28 + 320)
            teammates = sorted(
                xuid for xuid, _, team in roster if team == party_team and xuid != player.xuid
            )
            self.owner_rows.setdefault(player.xuid, []).append(
                {
                    "match_id": match_id,
                    "start_time": start,
                    "end_time": end,
                    "playlist_id": _stable_id("playlist", playlist.name),
                    "playlist_name": playlist.name,
                    "map_id": _stable_id("map", map_name),
                    "map_name": map_name,
                    "game_variant_name": mode,
                    "mode_category": "Slayer" if mode == "Slayer" else "Objective",
                    "is_ranked": playlist.ranked,
                    "outcome": outcomes[player.xuid],
                    "team_id": party_team,
                    "rank": ranks[player.xuid],
                    "kills": kills,
                    "deaths": deaths,
                    "assists": assists,
                    "kda": round(kills + assists / 3 - deaths, 2),
                    "accuracy": round(accuracy, 4),
                    "headshot_kills": round(kills * rng.uniform(0.3, 0.7)),
                    "max_killing_spree": min(kills, rng.randint(1, 7)),
                    "medal_count": rng.randint(kills // 3, kills // 3 + 8),
                    "personal_score": scores[player.xuid],
                    "damage_dealt": round(kills * rng.gauss(210, 20) + assists * 90.0, 1),
                    "damage_taken": round(deaths * rng.gauss(190, 20) + rng.uniform(0, 400), 1),
                    "shots_fired": shots_fired,
                    "shots_hit": round(shots_fired * accuracy),
                    "time_played_seconds": seconds,
                    "avg_life_seconds": round(seconds / (deaths + 1), 1),
                    "my_team_score": team_scores[party_team],
                    "enemy_team_score": enemy_score,
                    "team_mmr": round(rng.gauss(player.mmr, 35), 1),
                    "enemy_mmr": round(rng.gauss(player.mmr, 60), 1),
                    "teammates_signature": ",".join(teammates),
                    "updated_at": min(end + timedelta(minutes=rng.randint(1, 30)), self.now),
                }
            )
        return duration

    def evening(
        self,
        start: datetime,
        members: list[_Member],
        slots: int,
        *,
        until: datetime,
        pauses: bool = True,
    ) -> None:
        """Play up to `slots` rounds before `until`: the squad together, the others alone.

        Pauses inside the evening are sometimes longer than the gap, so one evening can
        hold two sessions of the same friends.
        """
        rng = self.rng
        clock = start
        for slot in range(slots):
            if clock >= until:
                return
            present = [m for m in members if m.join <= slot < m.leave]
            squad = [m.player for m in present if m.squad]
            parties = [[m.player] for m in present if not m.squad]
            if squad:
                parties.append(squad)
            longest = timedelta()
            for party in parties:
                jitter = timedelta(milliseconds=rng.randrange(0, 90_000))
                longest = max(longest, jitter + self.play(clock + jitter, party))
            clock += longest + timedelta(seconds=rng.randint(30, 180))
            pause = rng.random() if pauses else 1.0
            if pause < 0.05:
                clock += timedelta(minutes=rng.randint(125, 200))
            elif pause < 0.13:
                clock += timedelta(minutes=rng.randint(20, 75))


def _changes_offset(day: date) -> bool:
    """Whether Paris changes its clocks during the night after `day` (02:00 -> 03:00 in
    spring, 03:00 -> 02:00 in autumn)."""
    evening = datetime(day.year, day.month, day.day, 20, tzinfo=PARIS)
    return evening.utcoffset() != (evening + timedelta(days=1)).utcoffset()


def _evening_start(rng: random.Random, day: date) -> datetime:
    """A Paris evening start (sometimes past midnight), as naive UTC. On the nights the
    clocks change, the squad plays through the change: a session whose wall-clock
    label only reads right when start times are read as Paris wall clock."""
    if _changes_offset(day):
        minutes = 24 * 60 + 60 + rng.randint(0, 30)
    elif rng.random() < 0.12:
        minutes = rng.randint(23 * 60, 24 * 60 + 40)
    else:
        minutes = rng.randint(19 * 60 + 30, 22 * 60 + 30)
    local = datetime(day.year, day.month, day.day, tzinfo=PARIS) + timedelta(
        minutes=minutes, seconds=rng.randint(0, 59)
    )
    return local.astimezone(UTC).replace(tzinfo=None)


def _history_members(rng: random.Random, day: date, first_day: date) -> tuple[list[_Member], int]:
    weekday_factor = (0.8, 0.8, 0.8, 0.8, 1.4, 1.5, 1.1)[day.weekday()]
    online = [p for p in DEMO_PLAYERS if rng.random() < p.evenings_per_week / 7 * weekday_factor]
    jgtm_online = any(p is DEMO_PLAYERS[0] for p in online)
    if jgtm_online and (day - first_day).days < OLD_SQUAD_MATE_DAYS and rng.random() < 0.5:
        online.append(OLD_SQUAD_MATE)
    slots = rng.randint(3, 10)
    members = []
    for player in online:
        join = rng.randint(1, slots - 2) if slots >= 4 and rng.random() < 0.25 else 0
        leave = rng.randint(join + 2, slots) if slots - join > 2 and rng.random() < 0.25 else slots
        squad = not player.has_file or (len(online) > 1 and rng.random() < 0.8)
        members.append(_Member(player, join, leave, squad))
    return members, slots


def _tonight_members() -> list[_Member]:
    """The last evening, fixed so the recent, still-unstable matches always exist."""
    jgtm, madina, choco, daemon = DEMO_PLAYERS
    return [
        _Member(jgtm, 0, 9, squad=True),
        _Member(madina, 0, 9, squad=True),
        _Member(daemon, 5, 9, squad=True),
        _Member(choco, 1, 5, squad=False),
    ]


def generate_demo_matches(
    *, now: datetime | None = None, seed: int = 7
) -> tuple[dict[str, pl.DataFrame], pl.DataFrame]:
    """Simulate the evenings: per player xuid its `match_stats` rows, and every participant.

    The last evening starts 4 h 30 before `now`, after a pause longer than the gap, so its
    later matches are younger than the stability threshold.
    """
    now = utc_naive_now(now)
    rng = random.Random(seed)
    gen = _Generator(rng, now)
    tonight = now - timedelta(hours=4, minutes=30)
    history_end = tonight - timedelta(minutes=150)
    first_day = (now.replace(tzinfo=UTC).astimezone(PARIS) - timedelta(days=HISTORY_DAYS)).date()
    for offset in range(HISTORY_DAYS):
        day = first_day + timedelta(days=offset)
        members, slots = _history_members(rng, day, first_day)
        if _changes_offset(day):
            members, slots = _tonight_members(), 8
        gen.evening(_evening_start(rng, day), members, slots, until=history_end)
    gen.evening(tonight, _tonight_members(), 9, until=now, pauses=False)

    stats = {
        xuid: pl.DataFrame(rows, infer_schema_length=None).filter(pl.col("end_time") <= now)
        for xuid, rows in gen.owner_rows.items()
    }
    starts = pl.DataFrame(
        {"match_id": list(gen.match_starts), "start_time": list(gen.match_starts.values())},
        schema={"match_id": pl.String, "start_time": pl.Datetime("us")},
    )
    participants = pl.DataFrame(gen.participants).join(starts, on="match_id")
    return stats, participants


def _player_tables(
    xuid: str, stats: pl.DataFrame, all_participants: pl.DataFrame, now: datetime
) -> dict[str, pl.DataFrame]:
    """The four tables of one file, the side tables derived from the same matches."""
    participants = all_participants.filter(pl.col("match_id").is_in(stats["match_id"].implode()))
    mine = stats.select("match_id", my_team="team_id", my_outcome="outcome")
    others = participants.filter(pl.col("xuid") != xuid).join(mine, on="match_id")
    same_team = pl.col("team_id") == pl.col("my_team")
    teammates = (
        others.sort("start_time", "match_id")
        .group_by("xuid")
        .agg(
            teammate_gamertag=pl.col("gamertag").last(),
            matches_together=pl.col("match_id").n_unique(),
            same_team_count=same_team.sum(),
            opposite_team_count=(~same_team).sum(),
            wins_together=(same_team & (pl.col("my_outcome") == _OUTCOME_WIN)).sum(),
            losses_together=(same_team & (pl.col("my_outcome") == _OUTCOME_LOSS)).sum(),
            first_played=pl.col("start_time").min(),
            last_played=pl.col("start_time").max(),
        )
        .rename({"xuid": "teammate_xuid"})
        .with_columns(computed_at=pl.lit(now, dtype=pl.Datetime("us")))
        .sort("teammate_xuid")
    )
    return {
        "match_stats": stats.sort("start_time", "match_id"),
        "xuid_aliases": _aliases(participants, now),
        "match_participants": participants.drop("start_time").sort("match_id", "team_id", "xuid"),
        "teammates_aggregate": teammates,
    }


def _aliases(participants: pl.DataFrame, now: datetime) -> pl.DataFrame:
    """`xuid_aliases` of the players met in `participants`: each one's latest gamertag."""
    return (
        participants.sort("start_time", "match_id")
        .group_by("xuid")
        .agg(gamertag=pl.col("gamertag").last(), last_seen=pl.col("start_time").max())
        .with_columns(
            source=pl.lit("match_participants"),
            updated_at=pl.lit(now, dtype=pl.Datetime("us")),
        )
        .sort("xuid")
    )


def _warehouse_tables(
    stats: Mapping[str, pl.DataFrame],
    all_participants: pl.DataFrame,
    now: datetime,
    *,
    with_instants: bool,
) -> dict[str, pl.DataFrame]:
    """The warehouse of v6/v7: every match some player synced, once, with all its players.

    A match's rows are stamped with its first sync (the earliest `updated_at` of its
    owners), so the same seed and `now` give the same rows; v7 also keeps the instants.
    """
    synced = pl.concat(
        frame.select(
            "match_id",
            "start_time",
            "end_time",
            "playlist_id",
            "playlist_name",
            "map_id",
            "map_name",
            "game_variant_name",
            "mode_category",
            "is_ranked",
            "time_played_seconds",
            "updated_at",
        )
        for frame in stats.values()
    )
    participants = all_participants.join(
        synced.group_by("match_id").agg(synced_at=pl.col("updated_at").min()), on="match_id"
    )
    registry = (
        synced.sort("match_id", "updated_at")
        .unique("match_id", keep="first", maintain_order=True)
        .join(participants.group_by("match_id").len("player_count"), on="match_id")
        .select(
            pl.exclude("time_played_seconds", "updated_at", "player_count"),
            duration_seconds=pl.col("time_played_seconds").cast(pl.Int32),
            participants_loaded=pl.lit(True),
            first_sync_at="updated_at",
            player_count=pl.col("player_count").cast(pl.Int16),
            created_at="updated_at",
            updated_at="updated_at",
        )
        .sort("start_time", "match_id")
    )
    if with_instants:
        registry = registry.with_columns(start_time_utc="start_time", end_time_utc="end_time")
    return {
        "match_registry": registry,
        "match_participants": participants.select(
            "match_id",
            "xuid",
            "gamertag",
            "team_id",
            "outcome",
            "rank",
            "kills",
            "deaths",
            "assists",
            score="personal_score",
            created_at="synced_at",
        ).sort("match_id", "team_id", "xuid"),
        "xuid_aliases": _aliases(participants, now),
    }


def _enrichment_tables(xuid: str, stats: pl.DataFrame, now: datetime) -> dict[str, pl.DataFrame]:
    """A v5+ player file as the sync leaves it: one enrichment row per match, no session
    yet, its signature NULL (not '') when the player had no teammate."""
    signature = pl.col("teammates_signature")
    enrichment = stats.sort("start_time", "match_id").select(
        "match_id",
        teammates_signature=pl.when(signature != "").then(signature),
        had_bot_teammate=pl.lit(False),
        created_at="updated_at",
        updated_at="updated_at",
    )
    sync_meta = pl.DataFrame(
        {"key": ["xuid"], "value": [xuid], "updated_at": [now]},
        schema={"key": pl.String, "value": pl.String, "updated_at": pl.Datetime("us")},
    )
    return {"player_match_enrichment": enrichment, "sync_meta": sync_meta}


def _write_db_file(
    db_path: Path,
    create_tables: Callable[[duckdb.DuckDBPyConnection], None],
    tables: Mapping[str, pl.DataFrame],
) -> None:
    """Build beside the target, then swap it in: a reader never sees a half-built file."""
    db_path.parent.mkdir(parents=True, exist_ok=True)
    building = db_path.with_name(db_path.name + ".building")
    for leftover in (building, building.with_name(building.name + ".wal")):
        leftover.unlink(missing_ok=True)
    con = duckdb.connect(str(building))
    try:
        create_tables(con)
        for table, frame in tables.items():
            # Instants, which land as LevelUp's sync writes them: Paris wall clock in a
            # naive column, the instant itself in a TIMESTAMPTZ one (v7's start_time_utc).
            insert_frame(con, table, frame.with_columns(cs.datetime().dt.replace_time_zone("UTC")))
    finally:
        con.close()
    db_path.with_name(db_path.name + ".wal").unlink(missing_ok=True)
    os.replace(building, db_path)


def _write_profiles(app_root: AppRoot) -> None:
    """Add the demo players to `db_profiles.json`, keeping any other profile it holds.

    Read as the app reads it (`read_json_document`): a UTF-8 BOM is accepted, a key
    written twice or broken JSON is a ConfigFileError and the file is left as it is.
    """
    path = app_root.profiles_file
    content = read_json_document(path)
    if content is None:
        content = {"profiles": {}}
    if not isinstance(content, dict) or not isinstance(content.get("profiles", {}), dict):
        raise ConfigFileError(f'{path} must hold {{"profiles": {{...}}}}; left as it is')
    profiles = content.setdefault("profiles", {})
    for player in DEMO_PLAYERS:
        db_path = app_root.players_dir / player.gamertag / PLAYER_DB_NAME
        profiles[player.gamertag] = {
            "db_path": db_path.relative_to(app_root.path).as_posix(),
            "xuid": player.xuid,
        }
    partial = path.with_name(path.name + ".partial")
    partial.write_text(json.dumps(content, indent=2) + "\n", encoding="utf-8")
    os.replace(partial, path)


def _write_friends_if_absent(app_root: AppRoot) -> None:
    path = app_root.friends_file
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        with path.open("x", encoding="utf-8") as file:
            file.write(friends_defaults_text())
    except FileExistsError:
        return


def build_demo_root(
    root: Path, *, now: datetime | None = None, seed: int = 7, layout: DemoLayout = "v6"
) -> list[str]:
    """Write the demo's profiles and files under `root` in `layout`; return the gamertags.

    v4: each player's file holds its matches. v6/v7: the warehouse
    (`data/warehouse/shared_matches_v2.duckdb`) holds every match once, each player's file
    its enrichment rows; the warehouse is written first, so no player file ever names a
    match it lacks. The demo's files (players and warehouse) are rebuilt from scratch; a
    friends file already there is the user's and is kept. The same `seed` and `now` give
    the same rows, whatever the layout.
    """
    if layout not in get_args(DemoLayout):
        raise ValueError(f"unknown demo layout {layout!r}; expected v6, v4 or v7")
    app_root = AppRoot(Path(root))
    now = utc_naive_now(now)
    stats, participants = generate_demo_matches(now=now, seed=seed)
    if layout != "v4":
        # LevelUp finds the warehouse from a player's path: <data>/players -> <data>/warehouse.
        warehouse = app_root.players_dir.parent / "warehouse" / SHARED_MATCHES_DB_NAME
        shared = _warehouse_tables(stats, participants, now, with_instants=layout == "v7")
        _write_db_file(warehouse, lambda con: create_warehouse_tables(con, layout=layout), shared)
    for player in DEMO_PLAYERS:
        db_path = app_root.players_dir / player.gamertag / PLAYER_DB_NAME
        if layout == "v4":
            tables = _player_tables(player.xuid, stats[player.xuid], participants, now)
            _write_db_file(db_path, create_v4_player_tables, tables)
        else:
            tables = _enrichment_tables(player.xuid, stats[player.xuid], now)
            _write_db_file(db_path, create_v5_player_tables, tables)
    _write_profiles(app_root)
    _write_friends_if_absent(app_root)
    return [player.gamertag for player in DEMO_PLAYERS]
