"""Offline catalogue work: reading shop catalogues and building product indexes. Never imported by workers."""
