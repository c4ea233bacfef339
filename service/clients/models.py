from datetime import datetime

from pydantic import ConfigDict
from sqlmodel import JSON, Field, SQLModel

from service.fields import ShortText
from service.times import utcnow


class Contact(SQLModel):
    model_config = ConfigDict(extra="forbid")
    name: ShortText
    email: str | None = Field(default=None, max_length=320)
    phone: str | None = Field(default=None, max_length=64)
    role: str | None = Field(default=None, max_length=200)


class ClientBase(SQLModel):
    name: str = Field(min_length=1, max_length=200)
    notes: str = Field(default="", max_length=5000)


class Client(ClientBase, table=True):
    id: int | None = Field(default=None, primary_key=True)
    workspace_id: int = Field(foreign_key="workspace.id", index=True)
    contacts: list[dict] = Field(default_factory=list, sa_type=JSON)
    created_at: datetime = Field(default_factory=utcnow)


class ClientCreate(ClientBase):
    model_config = ConfigDict(extra="forbid")
    contacts: list[Contact] = Field(default_factory=list, max_length=50)


class ClientPublic(ClientBase):
    id: int
    contacts: list[Contact]
    created_at: datetime
