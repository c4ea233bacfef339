"""The `docket` command."""

import os
from datetime import datetime
from pathlib import Path
from typing import Annotated

import typer
from sqlmodel import select

from service.accounts.models import Role, Scope, Workspace
from service.config import get_settings
from service.db import new_session
from service.facts.models import Series

app = typer.Typer(help="Docket: a tamper-evident record of client engagements.", no_args_is_help=True)
user_app = typer.Typer(help="Accounts.", no_args_is_help=True)
token_app = typer.Typer(help="API tokens.", no_args_is_help=True)
app.add_typer(user_app, name="user")
app.add_typer(token_app, name="token")
rates_app = typer.Typer(help="Reference rates for late-payment interest.", no_args_is_help=True)
app.add_typer(rates_app, name="rates")


def _refused(exc: Exception) -> typer.BadParameter:
    """A refused value as the command line says it. A service's own message is a whole sentence already; a
    validation error is read as the forms read it, and named by its field, since no form shows it beside one."""
    from service.errors import DomainError
    from service.web import form_errors

    if isinstance(exc, DomainError):
        return typer.BadParameter(exc.message)
    return typer.BadParameter("; ".join(f"{field}: {message}" if field else message
                                        for field, message in form_errors(exc, default="").items()))


def _workspace(session, slug: str | None) -> Workspace:
    query = select(Workspace).order_by(Workspace.is_demo, Workspace.id)
    if slug:
        query = query.where(Workspace.slug == slug)
    workspace = session.exec(query).first()
    if workspace is None:
        raise typer.BadParameter(f"no workspace {slug!r}" if slug else "no workspace yet: run `docket serve` once")
    return workspace


@app.command()
def migrate() -> None:
    """Create or upgrade the database schema."""
    from service.db import get_engine
    from service.migrate import current_revision, upgrade

    get_settings().data_dir.mkdir(parents=True, exist_ok=True)
    engine = get_engine()
    before = current_revision(engine)
    upgrade()
    after = current_revision(engine)
    where = engine.url.render_as_string(hide_password=True)
    if before == after:
        typer.echo(f"{where}: up to date at revision {after}")
    else:
        typer.echo(f"{where}: migrated from {before or 'an empty database'} to revision {after}")


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="interface to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="port")] = 8000,
    workers: Annotated[int, typer.Option(help="worker processes")] = 1,
) -> None:
    """Start Docket; on a new database, create the first owner and the demo, and print a login link."""
    import uvicorn

    from service.demo.story import bootstrap

    if "base_url" not in get_settings().model_fields_set:
        # Links Docket prints and shows (login, invitations) point where it listens unless DOCKET_BASE_URL says
        # otherwise (a wildcard address is reached on this machine as localhost); the environment carries it to
        # uvicorn's worker processes.
        reach = "127.0.0.1" if host in ("0.0.0.0", "::") else host
        os.environ["DOCKET_BASE_URL"] = f"http://{reach}:{port}"
        get_settings.cache_clear()
    with new_session(write=True) as session:
        link = bootstrap(session)
        session.commit()
    typer.echo(f"\n    Docket is running at {get_settings().base_url}\n"
               f"    Sign in with this one-time link (valid {get_settings().login_link_minutes} minutes):\n\n"
               f"        {link}\n")
    uvicorn.run("service.asgi:app", host=host, port=port, workers=workers, proxy_headers=True,
                log_level="warning")


@app.command()
def demo() -> None:
    """Load the demo workspace (a sales engagement that ends in a refused final invoice)."""
    from service.demo.story import load_demo

    with new_session(write=True) as session:
        workspace = load_demo(session)
        session.commit()
    typer.echo(f"demo workspace {workspace.slug!r} loaded")


@user_app.command("create")
def user_create(
    email: str,
    name: Annotated[str, typer.Option(help="display name")] = "",
    workspace: Annotated[str | None, typer.Option(help="workspace slug (default: the first)")] = None,
    role: Annotated[Role, typer.Option(help="role in the workspace")] = Role.editor,
    password: Annotated[bool, typer.Option("--password", help="prompt for a password")] = False,
) -> None:
    """Add a person to a workspace and print a one-time login link for them."""
    from service.accounts.service import add_member, create_login_link, create_user
    from service.errors import DomainError

    secret = typer.prompt("Password", hide_input=True, confirmation_prompt=True) if password else None
    with new_session(write=True) as session:
        target = _workspace(session, workspace)
        try:
            user = create_user(session, email=email, name=name or email, password=secret)
        except DomainError as exc:
            raise _refused(exc) from None
        add_member(session, workspace=target, user=user, role=role)
        token = create_login_link(session, user=user)
        session.commit()
    typer.echo(f"{user.email} is {role.value} of {target.slug}; one-time login link:\n"
               f"{get_settings().base_url}/login/link/{token}")


@user_app.command("link")
def user_link(email: str) -> None:
    """Print a new one-time login link for someone who already has an account (a lost or expired link)."""
    from service.accounts.models import User
    from service.accounts.service import create_login_link

    with new_session(write=True) as session:
        user = session.exec(select(User).where(User.email == email.strip().lower())).first()
        if user is None:
            raise typer.BadParameter(f"no user with email {email}; add them with `docket user create`")
        token = create_login_link(session, user=user)
        session.commit()
    typer.echo(f"one-time login link for {user.email} (valid {get_settings().login_link_minutes} minutes):\n"
               f"{get_settings().base_url}/login/link/{token}")


@token_app.command("create")
def token_create(
    name: str,
    workspace: Annotated[str | None, typer.Option(help="workspace slug (default: the first)")] = None,
    scope: Annotated[Scope, typer.Option(help="read or write")] = Scope.write,
) -> None:
    """Create an API token for a workspace and print it (it is shown only once)."""
    from service.accounts.models import Membership
    from service.accounts.service import create_api_token

    with new_session(write=True) as session:
        target = _workspace(session, workspace)
        owner = session.exec(select(Membership).where(Membership.workspace_id == target.id,
                                                      Membership.role == Role.owner)).first()
        if owner is None:
            raise typer.BadParameter(f"workspace {target.slug} has no owner")
        _, secret = create_api_token(session, workspace=target, user_id=owner.user_id, name=name, scope=scope)
        session.commit()
    typer.echo(secret)


@app.command()
def export(
    engagement_id: Annotated[int, typer.Argument(help="the engagement to export")],
    out: Annotated[Path, typer.Option("--out", help="the bundle file to write (.zip)")],
    from_: Annotated[datetime | None, typer.Option("--from", formats=["%Y-%m-%d"],
                                                   help="first day (UTC) of records to disclose")] = None,
    to: Annotated[datetime | None, typer.Option(formats=["%Y-%m-%d"], help="last day (UTC) to disclose")] = None,
    kind: Annotated[list[str] | None, typer.Option(help="a kind to disclose (repeat for several)")] = None,
    index: Annotated[list[int] | None, typer.Option(help="a record to disclose whatever the filters (repeat)")] = None,
    recipient: Annotated[str | None, typer.Option("--for", help="for whom the bundle is made")] = None,
) -> None:
    """Write an evidence bundle of an engagement (or of the records matching the filters) for offline checking."""
    from service.accounts.models import Membership
    from service.bundles.service import parse_subset, prepare_bundle
    from service.bundles.writer import write_bundle
    from service.engagements.models import Engagement
    from service.errors import DomainError
    from service.evidence.store import evidence_store

    with new_session(write=True) as session:
        engagement = session.get(Engagement, engagement_id)
        if engagement is None:
            raise typer.BadParameter(f"no engagement {engagement_id}", param_hint="ENGAGEMENT_ID")
        workspace = session.get(Workspace, engagement.workspace_id)
        # The command runs with the server's own rights; the export is recorded as the workspace owner's.
        owner = session.exec(select(Membership).where(Membership.workspace_id == workspace.id,
                                                      Membership.role == Role.owner)).first()
        if owner is None:
            raise typer.BadParameter(f"workspace {workspace.slug} has no owner")
        try:
            subset = parse_subset(occurred_from=from_.date() if from_ else None, occurred_to=to.date() if to else None,
                                  kinds=kind, indices=index, engagement=engagement)
            plan = prepare_bundle(session, workspace=workspace, engagement=engagement,
                                  actor=f"user:{owner.user_id}", subset=subset,
                                  recipient=recipient, store=evidence_store())
        except DomainError as exc:
            raise _refused(exc) from None
        session.commit()
    size = write_bundle(plan, out)
    typer.echo(f"{out}: {size:,} bytes, checkpoint {plan.size}, {len(plan.entries)} of {plan.size} records, "
               f"{len(plan.exhibits)} exhibits; recorded as record {plan.record_index}\n"
               f"check it with: docket verify {out} --key '{plan.vkey}'")


@app.command()
def verify(
    bundle: Annotated[Path | None, typer.Argument(help="an evidence bundle (.zip) to check offline")] = None,
    db: Annotated[bool, typer.Option("--db", help="check every ledger and file in the database instead")] = False,
    key: Annotated[str | None, typer.Option(help="pin the verifier key the checkpoint must be signed with")] = None,
) -> None:
    """Check a bundle, or with --db everything stored; print what was checked and every problem; exit 1 on any."""
    if db == (bundle is not None):
        raise typer.BadParameter("give either a BUNDLE file or --db")
    if db:
        from service.evidence.store import evidence_store
        from service.ledger.verify import verify_database

        with new_session() as session:
            report = verify_database(session, evidence_store())
    else:
        from service.bundles.verify import verify_bundle

        report = verify_bundle(bundle, key=key)
    typer.echo(report.render())
    raise typer.Exit(0 if report.ok else 1)


@rates_app.command("list")
def rates_list(
    workspace: Annotated[str | None, typer.Option(help="workspace slug (default: the first)")] = None,
    series: Annotated[Series | None, typer.Option(help="default: both")] = None,
) -> None:
    """Print the reference rates interest is computed from: the shipped table and the workspace's own rows."""
    from service.facts.rates import list_rates

    with new_session() as session:
        rates = list_rates(session, workspace=_workspace(session, workspace), series=series)
    for r in rates:
        typer.echo(f"{r.series}\t{r.effective_on}\t{r.rate_percent:>7}\t{r.origin}"
                   f"{' (overrides shipped)' if r.overrides_shipped else ''}\t{r.source}")


@rates_app.command("add")
def rates_add(
    series: Annotated[Series, typer.Argument(help="boe_base (Bank of England Bank Rate) or ecb_mro (ECB main "
                                                 "refinancing rate)")],
    effective_on: Annotated[datetime, typer.Argument(formats=["%Y-%m-%d"], help="the day the rate took effect")],
    percent: Annotated[str, typer.Argument(help="the rate in percent, e.g. 3.75")],
    source: Annotated[str, typer.Option(help="where the rate is published (a URL)")],
    workspace: Annotated[str | None, typer.Option(help="workspace slug (default: the first)")] = None,
) -> None:
    """Add a reference rate to a workspace, or override the shipped rate of the same series and day."""
    from pydantic import ValidationError

    from service.errors import DomainError
    from service.facts.models import RateIn
    from service.facts.rates import add_rate, parse_percent

    with new_session(write=True) as session:
        target = _workspace(session, workspace)
        try:
            data = RateIn(series=series, effective_on=effective_on.date(), rate_bp=parse_percent(percent),
                          source=source)
            rate = add_rate(session, workspace=target, actor="cli", data=data)
        except (DomainError, ValidationError) as exc:
            raise _refused(exc) from None
        session.commit()
    typer.echo(f"{rate.series} {rate.effective_on} {rate.rate_percent} added to {target.slug}"
               f"{' (overrides the shipped rate)' if rate.overrides_shipped else ''}")


if __name__ == "__main__":
    app()
