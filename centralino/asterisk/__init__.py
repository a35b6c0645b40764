"""Asterisk: settings, configuration templates, process control, check/reload.

``settings`` (the ``[asterisk]`` section and instance layout), ``render``
(asterisk-conf/ templates), ``process`` (start/stop/cli), ``instance``
(rendered instances, free ports), ``manage`` (check/reload with rollback),
``rescue`` (calls left in the ARI app), ``cli`` (``centralino asterisk``).
"""
