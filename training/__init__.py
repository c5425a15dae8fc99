"""Training and export of our models (the `train` extra: torch, ultralytics, open_clip). Never imported by the
runtime packages."""
