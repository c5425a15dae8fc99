"""Offline evaluation: detector metrics, caption metrics against catalogue truth, the baseline captioner, the
table and plots, drawings.

Never imported by workers."""
