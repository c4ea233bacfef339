"""The client service, called directly on the real database."""

import pytest
from pydantic import ValidationError

from service.clients.models import ClientCreate
from service.clients.service import create_client, get_client, list_clients
from service.errors import NotFound
from tests import factories


def test_a_client_is_stored_with_its_contacts_and_a_trimmed_name(session, owner):
    client = create_client(session, workspace=owner.workspace, data=ClientCreate(
        name="  Halden Analytics ", notes="Introduced by a colleague",
        contacts=[{"name": "Tom Reed", "email": "tom@halden.example"}]))
    assert client.name == "Halden Analytics"
    assert client.contacts == [{"name": "Tom Reed", "email": "tom@halden.example"}]  # no empty phone or role
    assert get_client(session, workspace=owner.workspace, client_id=client.id).id == client.id


def test_a_client_needs_a_name_and_known_contact_fields():
    with pytest.raises(ValidationError):
        ClientCreate(name="")
    with pytest.raises(ValidationError):
        ClientCreate(name="Halden", contacts=[{"name": "Tom", "fax": "0"}])


def test_another_workspaces_client_is_not_found(session, owner):
    client = factories.make_client(session, member=owner)
    stranger = factories.make_member(session, workspace_name="Elsewhere")
    with pytest.raises(NotFound):
        get_client(session, workspace=stranger.workspace, client_id=client.id)
    with pytest.raises(NotFound):
        get_client(session, workspace=owner.workspace, client_id=10**9)
    assert list_clients(session, workspace=stranger.workspace) == []


def test_clients_are_listed_by_name_with_their_engagement_counts(session, owner):
    zeta = factories.make_client(session, member=owner, name="zeta")
    alpha = factories.make_client(session, member=owner, name="Alpha")
    factories.make_engagement(session, member=owner, client=zeta)
    factories.make_engagement(session, member=owner, client=zeta)
    assert [(c.id, n) for c, n in list_clients(session, workspace=owner.workspace)] == [(alpha.id, 0), (zeta.id, 2)]
