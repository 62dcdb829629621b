"""Dependencies shared by the routers: the archive the app was created with; strict query strings."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi._compat.shared import field_annotation_is_sequence
from fastapi.exceptions import RequestValidationError

from archive.context import Archive


def get_archive(request: Request) -> Archive:
    archive: Archive = request.app.state.archive
    return archive


ArchiveDep = Annotated[Archive, Depends(get_archive)]


def _query_fields(dependant: Any) -> dict[str, bool]:
    """The query parameters a route takes (with its dependencies): name -> whether it is a list."""
    names = {f.alias: field_annotation_is_sequence(f.field_info.annotation) for f in dependant.query_params}
    for sub in dependant.dependencies:
        names.update(_query_fields(sub))
    return names


def no_unknown_query(request: Request) -> None:
    """Refuse (422) a query parameter the route does not take, or one value given twice: a misspelt
    filter (``offcer=张三``) or a second ``q`` would otherwise be ignored silently, and the answer
    would look like the answer to the question asked."""
    route = request.scope.get("route")
    dependant = getattr(route, "dependant", None)
    if dependant is None:
        return
    fields = _query_fields(dependant)
    errors: list[dict[str, Any]] = [{"type": "extra_forbidden", "loc": ("query", name), "msg": "this route takes no such query parameter",
               "input": None} for name in sorted(set(request.query_params) - set(fields))]
    errors += [{"type": "repeated", "loc": ("query", name), "msg": "given more than once; it takes one value",
                "input": request.query_params.getlist(name)}
               for name, is_list in sorted(fields.items())
               if not is_list and len(request.query_params.getlist(name)) > 1]
    if errors:
        raise RequestValidationError(errors)


StrictQuery = Depends(no_unknown_query)
