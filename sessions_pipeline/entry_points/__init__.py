"""What a person runs: the `sessions-pipeline` command, the dashboard page and the demo.
The top layer: it may use every other one, and none uses it.
"""
