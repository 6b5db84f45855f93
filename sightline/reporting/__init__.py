"""Reading an iteration's evaluation report for people: rows, curves, mistakes, and charts.

Shared by the CLI (`sightline report`, `iterations show`) and the web UI's performance page, so the
two show the same figures; it reads the service's reports and draws, and knows nothing of HTTP or terminals.
"""
