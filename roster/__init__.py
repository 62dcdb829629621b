"""The roster: officers (执法人员) and the recorders (执法记录仪) assigned to them.

``models.py`` holds the rows, ``service.py`` the functions the CLI, console and API call. An
officer belongs to a unit; footage is attributed to the officer carrying the recorder and so to
that officer's unit, which is what bounds who may see it (``auth.policy.visible_units``).
"""
