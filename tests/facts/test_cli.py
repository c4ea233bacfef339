"""`docket rates`: list the reference rates and add to them, as an operator does."""

from sqlmodel import select
from typer.testing import CliRunner

from service.accounts.service import create_workspace
from service.cli import app
from service.db import new_session
from service.facts.models import ReferenceRate


def test_rates_list_and_add(cli_database):
    runner = CliRunner()
    with new_session(write=True) as session:
        slug = create_workspace(session, name="Acme").slug
        session.commit()
    listed = runner.invoke(app, ["rates", "list", "--series", "ecb_mro"])
    assert listed.exit_code == 0, listed.output
    assert "ecb_mro\t2024-09-18\t  3.65%\tshipped" in listed.output and "boe_base" not in listed.output

    added = runner.invoke(app, ["rates", "add", "boe_base", "2023-08-03", "5.5", "--source", "https://example.org"])
    assert added.exit_code == 0, added.output
    assert f"boe_base 2023-08-03 5.50% added to {slug} (overrides the shipped rate)" in added.output
    assert "2023-08-03\t  5.50%\tworkspace (overrides shipped)" in runner.invoke(app, ["rates", "list"]).output

    for args in (["fed", "2026-01-01", "4"], ["boe_base", "2026-01-01", "4.555"], ["boe_base", "soon", "4"]):
        result = runner.invoke(app, ["rates", "add", *args, "--source", "x"])
        assert result.exit_code == 2, (args, result.output)
    assert runner.invoke(app, ["rates", "list", "--series", "libor"]).exit_code == 2
    with new_session() as session:
        assert [(r.series, r.rate_bp) for r in session.exec(select(ReferenceRate))] == [("boe_base", 550)]
