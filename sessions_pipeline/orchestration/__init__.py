"""The Dagster definitions: assets, checks, sensors, the schedule and the run config. They
orchestrate and describe; what they call (reads, rules, writes) lives in the layers below.
"""
