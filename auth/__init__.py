"""Accounts: units (单位), users with roles, console sessions and API tokens, and who may do what.

``models.py`` holds the rows, ``policy.py`` the roles and their permissions (and which units a
user may see), ``service.py`` the functions the CLI, console and API call, ``errors.py`` the
refusals they raise.
"""
