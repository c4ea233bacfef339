from datetime import datetime
from enum import StrEnum

from sqlmodel import Field, SQLModel, UniqueConstraint

from service.times import utcnow


class Role(StrEnum):
    owner = "owner"
    editor = "editor"
    viewer = "viewer"


class Scope(StrEnum):
    read = "read"
    write = "write"


class Workspace(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    slug: str = Field(unique=True, max_length=64)
    name: str = Field(max_length=200)
    is_demo: bool = False
    public_key: bytes
    # Ed25519 private key, AES-GCM sealed with a key derived from DOCKET_SECRET_KEY (DESIGN §3.6).
    sealed_private_key: bytes
    created_at: datetime = Field(default_factory=utcnow)


class User(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    email: str = Field(unique=True, max_length=320)
    name: str = Field(max_length=200)
    password_hash: str | None = None
    created_at: datetime = Field(default_factory=utcnow)


class Membership(SQLModel, table=True):
    workspace_id: int = Field(foreign_key="workspace.id", primary_key=True)
    user_id: int = Field(foreign_key="user.id", primary_key=True, index=True)
    role: str = Field(max_length=16)


class Invitation(SQLModel, table=True):
    """A role in a workspace offered to someone who already has an account. It becomes a membership only when that
    person, signed in, accepts it: whoever invites never gets a way into their account."""

    __table_args__ = (UniqueConstraint("workspace_id", "user_id"),)
    id: int | None = Field(default=None, primary_key=True)
    workspace_id: int = Field(foreign_key="workspace.id")
    user_id: int = Field(foreign_key="user.id", index=True)
    role: str = Field(max_length=16)
    invited_by: int = Field(foreign_key="user.id")
    created_at: datetime = Field(default_factory=utcnow)


class AuthSession(SQLModel, table=True):
    __tablename__ = "auth_session"
    id: int | None = Field(default=None, primary_key=True)
    token_hash: str = Field(unique=True, max_length=64)
    user_id: int = Field(foreign_key="user.id", index=True)
    workspace_id: int = Field(foreign_key="workspace.id")
    csrf_token: str = Field(max_length=64)
    created_at: datetime = Field(default_factory=utcnow)
    expires_at: datetime


class LoginLink(SQLModel, table=True):
    __tablename__ = "login_link"
    id: int | None = Field(default=None, primary_key=True)
    token_hash: str = Field(unique=True, max_length=64)
    user_id: int = Field(foreign_key="user.id", index=True)
    expires_at: datetime
    used_at: datetime | None = None


class ApiToken(SQLModel, table=True):
    __tablename__ = "api_token"
    id: int | None = Field(default=None, primary_key=True)
    workspace_id: int = Field(foreign_key="workspace.id", index=True)
    name: str = Field(max_length=200)
    prefix: str = Field(max_length=16)
    token_hash: str = Field(unique=True, max_length=64)
    scope: str = Field(max_length=8)
    created_by: int = Field(foreign_key="user.id")
    created_at: datetime = Field(default_factory=utcnow)
    revoked_at: datetime | None = None


class IdempotentRequest(SQLModel, table=True):
    __tablename__ = "idempotent_request"
    __table_args__ = (UniqueConstraint("workspace_id", "actor", "key"),)
    id: int | None = Field(default=None, primary_key=True)
    workspace_id: int = Field(foreign_key="workspace.id")
    actor: str = Field(max_length=64)
    key: str = Field(max_length=255)
    request_sha256: str = Field(max_length=64)
    status_code: int
    response: str
    created_at: datetime = Field(default_factory=utcnow)


class TokenPublic(SQLModel):
    id: int
    name: str
    prefix: str
    scope: Scope
    created_at: datetime
    revoked_at: datetime | None


class TokenCreated(TokenPublic):
    token: str = Field(description="Shown once; Docket keeps only its hash.")
