"""Programs the reliability tests run as separate processes, to fault one another for real."""
