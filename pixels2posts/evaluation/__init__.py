"""Offline evaluation: detector metrics, caption metrics against catalogue truth, drawings.

Never imported by workers."""
