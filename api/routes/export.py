"""Export downloads for Gephi: GEXF and GraphML."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends
from fastapi.responses import Response

from api.deps import get_store
from graph.export import MEDIA_TYPES, export_graph
from graph.store import GraphStore

router = APIRouter(tags=["export"])


def _download(store: GraphStore, fmt: str) -> Response:
    data, nodes, edges = export_graph(store, fmt)  # type: ignore[arg-type]
    return Response(data, media_type=MEDIA_TYPES[fmt],
                    headers={"Content-Disposition": f'attachment; filename="agora.{fmt}"',
                             "X-Agora-Nodes": str(nodes), "X-Agora-Edges": str(edges)})


@router.get("/export.gexf", summary="The graph as GEXF 1.2 (Gephi)", response_class=Response,
            responses={200: {"content": {"application/gexf+xml": {}}}})
def export_gexf(store: Annotated[GraphStore, Depends(get_store)]) -> Response:
    return _download(store, "gexf")


@router.get("/export.graphml", summary="The graph as GraphML", response_class=Response,
            responses={200: {"content": {"application/graphml+xml": {}}}})
def export_graphml(store: Annotated[GraphStore, Depends(get_store)]) -> Response:
    return _download(store, "graphml")
