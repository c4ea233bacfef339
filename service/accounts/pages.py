import hmac
import secrets
from typing import Annotated, Literal

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse

from service.accounts.models import Role, Scope, User
from service.accounts.service import (
    accept_invitation,
    authenticate,
    change_member,
    change_password,
    create_api_token,
    create_login_link,
    decline_invitation,
    end_session,
    invite_member,
    list_api_tokens,
    list_members,
    login_link_holder,
    pending_invitations,
    redeem_login_link,
    revoke_api_token,
    start_session,
    switch_workspace,
    user_workspaces,
    withdraw_invitation,
    workspace_invitations,
)
from service.accounts.throttle import TooManyAttempts, app_throttle, client_address
from service.config import get_settings
from service.deps import SESSION_COOKIE, Id, OwnerDep, PrincipalDep, SessionDep
from service.errors import Conflict, DomainError, Invalid
from service.web import render

router = APIRouter()
LOGIN_CSRF_COOKIE = "docket_login_csrf"


def _safe_next(target: str | None) -> str:
    # Only paths on this site: "//evil.example" and "https://..." would send the user elsewhere.
    return target if target and target.startswith("/") and not target.startswith("//") else "/"


def _secure(request: Request) -> bool:
    """Cookies are Secure when configured (the Docker image) and whenever the request came over HTTPS (uvicorn
    reads X-Forwarded-Proto from a trusted proxy)."""
    return get_settings().secure_cookies or request.url.scheme == "https"


def _signed_in(request: Request, session, user: User, target: str, token: str) -> RedirectResponse:
    # Invitations wait on the settings page; someone who just signed in without a page in mind is shown them.
    if _safe_next(target) == "/" and pending_invitations(session, user_id=user.id):
        target = "/settings#invitations"
    response = RedirectResponse(_safe_next(target), status_code=303)
    response.set_cookie(SESSION_COOKIE, token, httponly=True, samesite="lax", secure=_secure(request),
                        max_age=get_settings().session_days * 86400)
    response.delete_cookie(LOGIN_CSRF_COOKIE)
    return response


def _start(request: Request, session, user: User, target: str):
    """Signs the person in; someone who belongs to no workspace but is invited to one answers the invitations
    first, since a session needs a workspace."""
    if not user_workspaces(session, user_id=user.id) and pending_invitations(session, user_id=user.id):
        return _invitations_page(request, session, user)
    return _signed_in(request, session, user, target, start_session(session, user=user))


def _invitations_page(request: Request, session, user: User):
    # The answer forms carry a fresh one-time link for this person: it proves the answer comes from the browser
    # that just signed in as them, and signs them in when they accept.
    response = render(request, "accounts/invitations.html",
                      {"invitations": pending_invitations(session, user_id=user.id), "user": user,
                       "sign_in": create_login_link(session, user=user)})
    response.headers["Cache-Control"] = "no-store"
    return response


def _login_page(request: Request, *, error: str | None = None, status_code: int = 200, email: str = "",
                notice: str | None = None):
    token = request.cookies.get(LOGIN_CSRF_COOKIE) or secrets.token_urlsafe(24)
    response = render(request, "accounts/login.html",
                      {"error": error, "notice": notice, "email": email,
                       "next": _safe_next(request.query_params.get("next")), "login_csrf": token},
                      status_code=status_code)
    response.set_cookie(LOGIN_CSRF_COOKIE, token, httponly=True, samesite="strict", secure=_secure(request))
    return response


def _refused(request: Request, exc: DomainError, *, email: str = ""):
    response = _login_page(request, error=exc.message, status_code=exc.status, email=email)
    if isinstance(exc, TooManyAttempts):
        response.headers["Retry-After"] = str(exc.retry_after)
    return response


@router.get("/login")
def login_form(request: Request):
    return _login_page(request)


@router.post("/login")
def login(request: Request, session: SessionDep, email: Annotated[str, Form(max_length=320)],
          password: Annotated[str, Form(max_length=1000)], csrf_token: Annotated[str, Form()] = "",
          next: Annotated[str, Form()] = "/"):
    expected = request.cookies.get(LOGIN_CSRF_COOKIE, "")
    if not expected or not hmac.compare_digest(expected.encode(), csrf_token.encode()):
        return _login_page(request, error="The form expired; please try again.", status_code=403, email=email)
    try:
        with app_throttle(request.app).attempt("login", account=email.strip().lower(),
                                               address=client_address(request)):
            user = authenticate(session, email=email, password=password)
        return _start(request, session, user, next)
    except DomainError as exc:
        return _refused(request, exc, email=email)


@router.get("/login/link/{token}")
def confirm_link(request: Request, token: str, session: SessionDep, next: str = "/"):
    """Says whom the link signs in (or why it cannot) and asks to go on: opening a link changes nothing."""
    try:
        # Throttled like signing in with it: the page tells a good link from a made-up one.
        with app_throttle(request.app).attempt("login_link", address=client_address(request)):
            user = login_link_holder(session, token=token)
    except DomainError as exc:
        return _refused(request, exc)
    login_csrf = request.cookies.get(LOGIN_CSRF_COOKIE) or secrets.token_urlsafe(24)
    response = render(request, "accounts/link.html", {"user": user, "token": token, "next": _safe_next(next),
                                                      "login_csrf": login_csrf})
    response.set_cookie(LOGIN_CSRF_COOKIE, login_csrf, httponly=True, samesite="strict",
                        secure=_secure(request))
    return response


@router.post("/login/link/{token}")
def login_with_link(request: Request, token: str, session: SessionDep,
                    csrf_token: Annotated[str, Form()] = "", next: Annotated[str, Form()] = "/"):
    expected = request.cookies.get(LOGIN_CSRF_COOKIE, "")
    if not expected or not hmac.compare_digest(expected.encode(), csrf_token.encode()):
        return _login_page(request, error="The form expired; open the link again.", status_code=403)
    try:
        with app_throttle(request.app).attempt("login_link", address=client_address(request)):
            user = redeem_login_link(session, token=token)
        return _start(request, session, user, next)
    except DomainError as exc:
        # Nothing of a refused sign-in is kept: a link that led nowhere stays unused.
        session.rollback()
        return _refused(request, exc)


@router.post("/login/invitations/{invitation_id}")
def answer_invitation_at_sign_in(request: Request, invitation_id: Id, session: SessionDep,
                                 sign_in: Annotated[str, Form(max_length=200)],
                                 answer: Annotated[Literal["accept", "decline"], Form()]):
    try:
        with app_throttle(request.app).attempt("login_link", address=client_address(request)):
            user = redeem_login_link(session, token=sign_in)
        if answer == "accept":
            workspace = accept_invitation(session, user_id=user.id, invitation_id=invitation_id)
            cookie = start_session(session, user=user, workspace_id=workspace.id)
            return _signed_in(request, session, user, "/", cookie)
        decline_invitation(session, user_id=user.id, invitation_id=invitation_id)
    except DomainError as exc:
        session.rollback()
        return _refused(request, exc)
    if pending_invitations(session, user_id=user.id):
        return _invitations_page(request, session, user)
    return _login_page(request, notice="Invitation declined. This account belongs to no workspace, so there is "
                                       "nothing to sign in to until someone invites you again.")


@router.post("/logout")
def logout(request: Request, principal: PrincipalDep, session: SessionDep):
    end_session(session, token=request.cookies[SESSION_COOKIE])
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(SESSION_COOKIE)
    return response


@router.post("/workspace")
def choose_workspace(request: Request, principal: PrincipalDep, session: SessionDep,
                     workspace_id: Annotated[int, Form()]):
    switch_workspace(session, token=request.cookies[SESSION_COOKIE], workspace_id=workspace_id)
    return RedirectResponse("/", status_code=303)


@router.get("/settings")
def settings_page(request: Request, principal: PrincipalDep, session: SessionDep):
    return _settings(request, principal, session)


def _settings(request, principal, session, *, status_code: int = 200, **extra):
    context = {"members": list_members(session, workspace=principal.workspace), "roles": list(Role),
               "scopes": list(Scope), "me": session.get(User, principal.user_id),
               "invitations": pending_invitations(session, user_id=principal.user_id), **extra}
    if principal.role == Role.owner:
        context["tokens"] = list_api_tokens(session, workspace=principal.workspace)
        context["invited"] = workspace_invitations(session, workspace=principal.workspace)
    return render(request, "accounts/settings.html", context, status_code=status_code)


@router.post("/settings/password")
def password_page(request: Request, principal: PrincipalDep, session: SessionDep,
                  password: Annotated[str, Form(max_length=1000)],
                  password_again: Annotated[str, Form(max_length=1000)],
                  current_password: Annotated[str, Form(max_length=1000)] = ""):
    try:
        if password != password_again:
            raise Invalid("the new password and its repetition differ", field="password_again")
        change_password(session, user=session.get(User, principal.user_id), current=current_password, new=password,
                        keep_session=request.cookies[SESSION_COOKIE])
    except Invalid as exc:
        return _settings(request, principal, session, password_error=exc.message, status_code=422)
    return _settings(request, principal, session, password_saved=True)


@router.post("/settings/tokens")
def new_token(request: Request, principal: OwnerDep, session: SessionDep,
              name: Annotated[str, Form(max_length=200)], scope: Annotated[Scope, Form()]):
    _, secret = create_api_token(session, workspace=principal.workspace, user_id=principal.user_id,
                                 name=name, scope=scope)
    return _settings(request, principal, session, new_token=secret)


@router.post("/settings/tokens/{token_id}/revoke")
def revoke_token(token_id: Id, principal: OwnerDep, session: SessionDep):
    revoke_api_token(session, workspace=principal.workspace, token_id=token_id)
    return RedirectResponse("/settings", status_code=303)


@router.post("/settings/members")
def new_member(request: Request, principal: OwnerDep, session: SessionDep,
               email: Annotated[str, Form(max_length=320)], role: Annotated[Role, Form()],
               name: Annotated[str, Form(max_length=200)] = ""):
    try:
        user, token = invite_member(session, workspace=principal.workspace, inviter_id=principal.user_id,
                                    email=email, name=name, role=role)
    except (Invalid, Conflict) as exc:
        return _settings(request, principal, session, invite_error=exc.message, status_code=exc.status)
    if token is None:
        return _settings(request, principal, session, invitation_sent=user.email)
    return _settings(request, principal, session, invite_link=f"{get_settings().base_url}/login/link/{token}",
                     invite_email=user.email)


@router.post("/settings/members/invitations/{invitation_id}/withdraw")
def withdraw_invitation_page(invitation_id: Id, principal: OwnerDep, session: SessionDep):
    withdraw_invitation(session, workspace=principal.workspace, invitation_id=invitation_id)
    return RedirectResponse("/settings", status_code=303)


@router.post("/settings/invitations/{invitation_id}/accept")
def accept_invitation_page(request: Request, invitation_id: Id, principal: PrincipalDep, session: SessionDep):
    workspace = accept_invitation(session, user_id=principal.user_id, invitation_id=invitation_id)
    # Straight into the workspace just joined: that is why one accepts.
    switch_workspace(session, token=request.cookies[SESSION_COOKIE], workspace_id=workspace.id)
    return RedirectResponse("/", status_code=303)


@router.post("/settings/invitations/{invitation_id}/decline")
def decline_invitation_page(invitation_id: Id, principal: PrincipalDep, session: SessionDep):
    decline_invitation(session, user_id=principal.user_id, invitation_id=invitation_id)
    return RedirectResponse("/settings#invitations", status_code=303)


@router.post("/settings/members/{user_id}")
def change_member_page(user_id: Id, principal: OwnerDep, session: SessionDep, role: Annotated[Role, Form()],
                       remove: Annotated[str, Form()] = ""):
    change_member(session, workspace=principal.workspace, actor_id=principal.user_id, user_id=user_id,
                  role=None if remove else role)
    return RedirectResponse("/settings", status_code=303)
