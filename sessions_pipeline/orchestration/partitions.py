"""One partition per player of the app root, fixed when the definitions load.

Static keys rather than dynamic ones: dynamic keys live in the Dagster instance, so on a
fresh machine `dagster job execute ... --tags '{"dagster/partition": "JGtm"}'` fails until
someone registers the key. Static keys are read from the root itself, so every player is
a partition with no prior step; a player file added later appears when the code location
reloads (the UI's "Reload definitions", or any new CLI process), with no code change.
"""

from __future__ import annotations

import dagster as dg

from sessions_pipeline.errors import ConfigFileError
from sessions_pipeline.levelup.app_root import AppRoot


def player_partitions(root: AppRoot) -> dg.StaticPartitionsDefinition:
    """The root's gamertags as partition keys (none for an empty root, which still loads).

    A malformed db_profiles.json must not take the whole code location down, or no sensor
    could report it: the folder players stay partitions, and the sensors skip with the
    file's error until it is fixed.
    """
    try:
        return dg.StaticPartitionsDefinition(root.gamertags())
    except ConfigFileError as error:
        dg.get_dagster_logger().warning(f"{error}; only data/players/ folders are partitions")
        return dg.StaticPartitionsDefinition(root.folder_gamertags())
