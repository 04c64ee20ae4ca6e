"""Drivers of the loop-independent controller (``unfreeze_core.controller``) inside other trainers."""
