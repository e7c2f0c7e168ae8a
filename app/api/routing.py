"""How the ``/v1`` routers are mounted: flat on the app, unknown query parameters refused.

FastAPI keeps an included router nested: a request walks the routers before it, matches its
route twice and goes through one more layer of dispatch, and a router dependency is solved
like any other (its own pass over path, query, header and cookie parameters). On
``/v1/point`` that was a fifth of the CPU spent per request (bench/README.md). Here each
route is added to the app itself, with the prefix, responses and dependencies combined the
way ``include_router`` combines them, and the unknown-parameter check runs in the route's
handler, before FastAPI reads the body or solves the dependencies.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import APIRouter, FastAPI, Request, Response
from fastapi.routing import APIRoute

from app.api.params import reject_unknown_query

# What an APIRoute keeps of its declaration, passed on as add_api_route takes it.
_DECLARED = (
    "response_model",
    "status_code",
    "tags",
    "summary",
    "description",
    "response_description",
    "deprecated",
    "methods",
    "operation_id",
    "response_model_include",
    "response_model_exclude",
    "response_model_by_alias",
    "response_model_exclude_unset",
    "response_model_exclude_defaults",
    "response_model_exclude_none",
    "include_in_schema",
    "response_class",
    "name",
    "callbacks",
    "openapi_extra",
    "generate_unique_id_function",
    "strict_content_type",
    "max_body_size",
    "form_limits",
)


class StrictQueryRoute(APIRoute):
    """A route answering 422 to a query parameter it does not take (``reject_unknown_query``)."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        """FastAPI's handler, after the check."""
        handler = super().get_route_handler()

        async def strict(request: Request) -> Response:
            await reject_unknown_query(request)
            return await handler(request)

        return strict


def include_flat(
    app: FastAPI, router: APIRouter, prefix: str, responses: dict[int | str, dict[str, Any]]
) -> None:
    """Add every route of ``router`` to ``app`` under ``prefix``, refusing unknown parameters."""
    for route in router.routes:
        if not isinstance(route, APIRoute):
            raise TypeError(f"{route!r}: only API routes can be added flat")
        app.router.add_api_route(
            prefix + route.path,
            route.endpoint,
            dependencies=route.dependencies,
            responses={**responses, **route.responses},
            route_class_override=StrictQueryRoute,
            **{name: getattr(route, name) for name in _DECLARED},
        )
