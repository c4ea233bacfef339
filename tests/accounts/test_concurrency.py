"""One login link opened many times at once, on a real committed database: each request (or thread) has its
own session and transaction, as in production, not the rolled-back test session."""

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import delete
from sqlmodel import func, select

from service.accounts.models import AuthSession, LoginLink, Membership, User, Workspace
from service.accounts.service import create_login_link, redeem_login_link, start_session
from service.db import new_session
from service.errors import Unauthorized
from service.main import create_app
from tests import factories

OPENERS = 8


@pytest.fixture
def committed_link(engine):
    """A person with a workspace and one unused login link, committed; everything is removed afterwards."""
    with new_session(engine, write=True) as session:
        member = factories.make_member(session, workspace_name="Race Co")
        token = create_login_link(session, user=member.user)
        session.commit()
    yield member, token
    with new_session(engine, write=True) as session:
        for table, column in ((AuthSession, AuthSession.user_id), (LoginLink, LoginLink.user_id),
                              (Membership, Membership.user_id), (User, User.id)):
            session.execute(delete(table).where(column == member.user.id))
        session.execute(delete(Workspace).where(Workspace.id == member.workspace.id))
        session.commit()


def _sessions_of(engine, user_id: int) -> int:
    with new_session(engine) as session:
        return session.exec(select(func.count()).select_from(AuthSession)
                            .where(AuthSession.user_id == user_id)).one()


def _all_at_once(work):
    """Runs work(start) in OPENERS threads; each calls start() when ready, and all go on together."""
    barrier = threading.Barrier(OPENERS)
    with ThreadPoolExecutor(OPENERS) as pool:
        return list(pool.map(lambda _: work(barrier.wait), range(OPENERS)))


def test_threads_redeeming_one_link_at_once_start_exactly_one_session(engine, committed_link):
    member, token = committed_link

    def redeem(start) -> str:
        # A plain (not write-first) session: the claim itself must be atomic, whatever the caller began with.
        with new_session(engine) as session:
            start()
            try:
                user = redeem_login_link(session, token=token)
            except Unauthorized:
                session.rollback()
                return "refused"
            start_session(session, user=user)
            session.commit()
            return "signed in"

    outcomes = _all_at_once(redeem)
    assert sorted(outcomes) == ["refused"] * (OPENERS - 1) + ["signed in"]
    assert _sessions_of(engine, member.user.id) == 1


def test_opening_one_link_in_many_requests_at_once_signs_in_exactly_one(engine, committed_link):
    member, token = committed_link
    app = create_app(engine)  # the real request session: each request commits its own transaction

    def open_link(start) -> int:
        with TestClient(app) as client:
            client.get(f"/login/link/{token}")
            start()
            return client.post(f"/login/link/{token}", data={"csrf_token": client.cookies["docket_login_csrf"]},
                               follow_redirects=False).status_code

    statuses = _all_at_once(open_link)
    assert sorted(statuses) == [303] + [401] * (OPENERS - 1), statuses
    assert _sessions_of(engine, member.user.id) == 1
