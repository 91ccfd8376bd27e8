"""LevelUp's files: the app root, its settings, the player files of every layout and the
shared warehouse; reading sessions and storing them. Uses the rules; knows no Dagster.
"""
