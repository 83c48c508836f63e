"""Watching the classes month after month: stability of indicators and scores (PSI / CSI, Evidently drift
reports) and back-testing of sealed months as their outcomes arrive."""
