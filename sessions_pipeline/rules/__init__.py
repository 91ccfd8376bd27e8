"""The session rules, pure: Polars frames in, sessions out, no file and no Dagster.

Everything here is a function of its arguments, so the rules are tested against a
one-match-at-a-time reference and reused by the reader, the store and the checks alike.
"""
