"""Every table model, imported once: the registry Alembic and the tests use."""

from sqlmodel import SQLModel

from service.accounts.models import (  # noqa: F401
    ApiToken,
    AuthSession,
    IdempotentRequest,
    LoginLink,
    Membership,
    User,
    Workspace,
)
from service.clients.models import Client  # noqa: F401
from service.engagements.models import Engagement  # noqa: F401
from service.evidence.models import Evidence  # noqa: F401
from service.facts.models import ReferenceRate, SignalThreshold  # noqa: F401
from service.ledger.models import Checkpoint, MerkleNode  # noqa: F401
from service.records.models import Record, RecordRef  # noqa: F401

metadata = SQLModel.metadata
