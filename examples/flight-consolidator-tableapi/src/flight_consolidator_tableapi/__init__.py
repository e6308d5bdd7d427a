"""The seeds' flight consolidator as a Python Table API app."""
