"""Cases (案件) and their enforcement steps (执法环节), the evidence linked to each step, the text
records (执法文书) beside them, and the full-process coverage check (全过程记录).

``models.py`` holds the rows, ``service.py`` the functions the CLI, console and API call (the unified
registration number too, taken with the case), ``views.py`` a case as the console and API show it,
``coverage.py`` the check against the AV checklist, ``records.py`` the signed, versioned text
records, ``export.py`` the case bag, ``errors.py`` their errors.
"""
