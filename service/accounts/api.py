from fastapi import APIRouter
from pydantic import BaseModel

from service.deps import PrincipalDep
from service.http import StrictJsonRoute

router = APIRouter(tags=["accounts"], route_class=StrictJsonRoute)


class Me(BaseModel):
    workspace: str
    workspace_name: str
    role: str
    actor: str


@router.get("/me", response_model=Me)
def me(principal: PrincipalDep):
    return Me(workspace=principal.workspace.slug, workspace_name=principal.workspace.name,
              role=principal.role, actor=principal.actor)
