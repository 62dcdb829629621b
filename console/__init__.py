"""The console: server-rendered pages (Jinja2) with a little JavaScript, Simplified Chinese first.

``pages.py`` holds the routes, ``i18n.py`` the words in both languages, ``templates/`` and
``static/`` what the browser gets. Pages call the same service functions as the API, and the
scripts call the API itself (with the session cookie and the CSRF header), so every check and
every custody event is the API's.
"""
