"""Presentation outside the engine: views, tables and plots that listen to runs and read run folders."""
