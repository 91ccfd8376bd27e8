"""Read-only lookups of players and teammates in a LevelUp file or the shared warehouse.

Any of the tables read here may be missing from a given file (older LevelUp versions, a
sync that never filled them), so every lookup checks the catalog first and answers
"nothing" instead of failing. xuid columns are compared as text: the dashboard and
`teammates_signature` carry xuids as strings, whatever type a file stored them as.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from typing import NamedTuple

import duckdb


class _NameTable(NamedTuple):
    """A table mapping xuids to gamertags, and the names of those two columns."""

    table: str
    xuid: str
    gamertag: str


# The two tables a gamertag <-> xuid lookup can read. These fixed identifiers are the only
# values the templates below are ever filled with: nothing read from a file or a user.
_ALIASES = _NameTable("xuid_aliases", "xuid", "gamertag")
_TEAMMATES = _NameTable("teammates_aggregate", "teammate_xuid", "teammate_gamertag")

# Gamertags are case-insensitive on Xbox Live. When several rows match a name, the one
# spelled exactly as asked wins, then the smallest xuid, so the answer never depends on
# row order. All the names of a lookup are matched in one query.
_XUIDS_BY_GAMERTAG = """
SELECT wanted.name, CAST({xuid} AS VARCHAR) AS xuid
FROM {table}
JOIN (SELECT DISTINCT unnest($1::VARCHAR[]) AS name) AS wanted
  ON lower(trim({gamertag})) = lower(wanted.name)
WHERE {xuid} IS NOT NULL
QUALIFY row_number() OVER (
    PARTITION BY wanted.name
    ORDER BY trim({gamertag}) = wanted.name DESC, CAST({xuid} AS VARCHAR)
) = 1
"""

_GAMERTAGS_BY_XUID = """
SELECT CAST({xuid} AS VARCHAR) AS xuid, min(trim({gamertag})) AS gamertag
FROM {table}
WHERE CAST({xuid} AS VARCHAR) IN (SELECT unnest($1::VARCHAR[]))
  AND nullif(trim({gamertag}), '') IS NOT NULL
GROUP BY 1
"""

_XUIDS_BY_ALIAS = _XUIDS_BY_GAMERTAG.format(**_ALIASES._asdict())
_XUIDS_BY_TEAMMATE_GAMERTAG = _XUIDS_BY_GAMERTAG.format(**_TEAMMATES._asdict())
_GAMERTAGS_BY_ALIAS = _GAMERTAGS_BY_XUID.format(**_ALIASES._asdict())
_GAMERTAGS_BY_TEAMMATE = _GAMERTAGS_BY_XUID.format(**_TEAMMATES._asdict())

_KNOWN_XUID_CHECKS = {
    ("xuid_aliases", "xuid"): (
        "EXISTS (SELECT 1 FROM xuid_aliases WHERE CAST(xuid AS VARCHAR) = $1)"
    ),
    ("match_participants", "xuid"): (
        "EXISTS (SELECT 1 FROM match_participants WHERE CAST(xuid AS VARCHAR) = $1)"
    ),
    ("teammates_aggregate", "teammate_xuid"): (
        "EXISTS (SELECT 1 FROM teammates_aggregate WHERE CAST(teammate_xuid AS VARCHAR) = $1)"
    ),
    ("match_stats", "teammates_signature"): (
        "EXISTS (SELECT 1 FROM match_stats, "
        "unnest(string_split(teammates_signature, ',')) AS signature(member) "
        "WHERE trim(member) = $1)"
    ),
}

# Same-team teammates of the player: one count per distinct match in which the teammate
# shared the player's team_id (NULL team ids never match). Ties: smallest xuid first.
_TOP_SAME_TEAM_TEAMMATES = """
SELECT CAST(mate.xuid AS VARCHAR) AS xuid, count(DISTINCT mate.match_id) AS matches
FROM match_participants AS me
JOIN match_participants AS mate
  ON mate.match_id = me.match_id AND mate.team_id = me.team_id
WHERE CAST(me.xuid AS VARCHAR) = $1
  AND CAST(mate.xuid AS VARCHAR) <> $1
GROUP BY 1
ORDER BY matches DESC, xuid
LIMIT $2
"""

# Teammates never seen on the player's team (count 0 or NULL) are not candidates.
_TOP_AGGREGATE_TEAMMATES = """
SELECT CAST(teammate_xuid AS VARCHAR) AS xuid, max(same_team_count) AS matches
FROM teammates_aggregate
WHERE teammate_xuid IS NOT NULL
  AND same_team_count > 0
  AND CAST(teammate_xuid AS VARCHAR) IS DISTINCT FROM $1
GROUP BY 1
ORDER BY matches DESC, xuid
LIMIT $2
"""


def _has_columns(con: duckdb.DuckDBPyConnection, table: str, *columns: str) -> bool:
    """True when `table` exists (table or view) with every column a lookup reads."""
    # The relation's binding, not information_schema: a catalog query costs milliseconds,
    # which the dashboard's first render pays for each side table it looks at.
    try:
        present = {name.lower() for name in con.table(table).columns}
    except duckdb.CatalogException:
        return False
    return present.issuperset(columns)


def _first_value(con: duckdb.DuckDBPyConnection, query: str, params: list[object]) -> str | None:
    rows = con.sql(query, params=params).fetchall()
    return rows[0][0] if rows else None


def xuids_for_aliases(con: duckdb.DuckDBPyConnection, gamertags: Collection[str]) -> dict[str, str]:
    """The xuid `xuid_aliases` gives each of these gamertags (case-insensitive) it knows."""
    return _xuids_by_name(con, _ALIASES, _XUIDS_BY_ALIAS, gamertags)


def xuids_for_teammate_gamertags(
    con: duckdb.DuckDBPyConnection, gamertags: Collection[str]
) -> dict[str, str]:
    """The xuid `teammates_aggregate` gives each of these gamertags (case-insensitive)."""
    return _xuids_by_name(con, _TEAMMATES, _XUIDS_BY_TEAMMATE_GAMERTAG, gamertags)


def _xuids_by_name(
    con: duckdb.DuckDBPyConnection, source: _NameTable, query: str, names: Collection[str]
) -> dict[str, str]:
    if not names or not _has_columns(con, *source):
        return {}
    return dict(con.sql(query, params=[sorted(set(names))]).fetchall())


def is_known_xuid(con: duckdb.DuckDBPyConnection, xuid: str) -> bool:
    """Whether the file has ever seen this xuid: as an alias, a participant, an aggregated
    teammate or a member of a `teammates_signature` (the column sessions are cut on)."""
    checks = [
        check
        for (table, column), check in _KNOWN_XUID_CHECKS.items()
        if _has_columns(con, table, column)
    ]
    if not checks:
        return False
    return bool(_first_value(con, "SELECT " + " OR ".join(checks), [xuid]))


def gamertags_of(con: duckdb.DuckDBPyConnection, xuids: Collection[str]) -> dict[str, str]:
    """Display names of these xuids: `xuid_aliases` first, then `teammates_aggregate`."""
    names: dict[str, str] = {}
    sources = ((_ALIASES, _GAMERTAGS_BY_ALIAS), (_TEAMMATES, _GAMERTAGS_BY_TEAMMATE))
    for source, query in sources:
        missing = sorted(set(xuids) - names.keys())
        if not missing or not _has_columns(con, *source):
            continue
        names.update(dict(con.sql(query, params=[missing]).fetchall()))
    return names


def gamertags_in(
    sources: Sequence[duckdb.DuckDBPyConnection], xuids: Collection[str]
) -> dict[str, str]:
    """`gamertags_of` asked of each source in turn (the player's file, then the
    warehouse) for the xuids the ones before did not name."""
    names: dict[str, str] = {}
    for source in sources:
        missing = set(xuids) - names.keys()
        if missing:
            names |= gamertags_of(source, missing)
    return names


def top_same_team_teammates(
    con: duckdb.DuckDBPyConnection, player_xuid: str, limit: int
) -> list[str]:
    """The player's most frequent same-team teammates according to `match_participants`."""
    if not _has_columns(con, "match_participants", "match_id", "xuid", "team_id"):
        return []
    rows = con.sql(_TOP_SAME_TEAM_TEAMMATES, params=[player_xuid, limit]).fetchall()
    return [xuid for xuid, _ in rows]


def top_aggregate_teammates(
    con: duckdb.DuckDBPyConnection, player_xuid: str | None, limit: int
) -> list[str]:
    """The most frequent same-team teammates according to `teammates_aggregate`."""
    if not _has_columns(con, "teammates_aggregate", "teammate_xuid", "same_team_count"):
        return []
    rows = con.sql(_TOP_AGGREGATE_TEAMMATES, params=[player_xuid, limit]).fetchall()
    return [xuid for xuid, _ in rows]


def sync_meta_xuid(con: duckdb.DuckDBPyConnection) -> str | None:
    """The player's xuid as a v5+ file's `sync_meta` records it (key `xuid`), if it does."""
    if not _has_columns(con, "sync_meta", "key", "value"):
        return None
    value = _first_value(con, "SELECT CAST(value AS VARCHAR) FROM sync_meta WHERE key = 'xuid'", [])
    return value.strip() if value and value.strip() else None


def is_v5_player_file(con: duckdb.DuckDBPyConnection) -> bool:
    """A LevelUp v5+ player file: enrichment rows, and its matches in the warehouse."""
    return _has_columns(con, "player_match_enrichment", "match_id") and not _has_columns(
        con, "match_stats", "match_id"
    )
