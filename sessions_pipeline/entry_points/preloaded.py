"""The last module the backfill's fork server preloads: it warms and freezes the others.

Each worker opens a Dagster instance, whose storage imports SQLAlchemy, Alembic and some
400 modules more: about half a second a worker would pay after its fork. Opening and
closing one throwaway instance here, through Dagster's public API, loads them once in the
server. Frozen objects are then left out of garbage collection: the workers never walk
Dagster's hundreds of thousands of objects in a full collection (and leave those pages
shared), and the server's own exit, which a caller reading the command's output waits
for, takes milliseconds instead of most of a second.
"""

import gc

import dagster as dg

with dg.DagsterInstance.ephemeral():
    pass

gc.freeze()
