"""form_errors: the one way a page (and the command line) reads what a model or a service refused."""

import pytest
from pydantic import BaseModel, Field, ValidationError, model_validator

from service.errors import Invalid, NotFound
from service.web import form_errors


class Contact(BaseModel):
    email: str = Field(max_length=5)


class Form(BaseModel):
    name: str = Field(min_length=1)
    rate_minor: int
    contacts: list[Contact] = []

    @model_validator(mode="after")
    def _whole(self):
        if self.name == "whole":
            raise ValueError("the form as a whole is wrong")
        return self


def refusal(**data) -> ValidationError:
    with pytest.raises(ValidationError) as caught:
        Form.model_validate(data)
    return caught.value


def test_a_validation_error_is_named_by_its_dotted_field_without_list_positions():
    errors = form_errors(refusal(name="", rate_minor="x", contacts=[{"email": "a@b.c.d.e"}]))
    assert set(errors) == {"name", "rate_minor", "contacts.email"}
    assert errors["name"] == "String should have at least 1 character"


def test_rename_maps_a_models_field_to_the_forms_and_default_names_the_whole():
    assert set(form_errors(refusal(name="a", rate_minor="x"), rename={"rate_minor": "rate"})) == {"rate"}
    assert form_errors(refusal(name="whole", rate_minor=1), default="form") == {
        "form": "the form as a whole is wrong"}  # without pydantic's "Value error, "
    assert set(form_errors(refusal(name="a", rate_minor="x"), rename=str.upper)) == {"RATE_MINOR"}


def test_a_domain_error_is_named_by_its_field_and_loses_the_prefix_that_repeats_it():
    assert form_errors(Invalid("refs: record 3 is a call", field="refs")) == {"refs": "record 3 is a call"}
    assert form_errors(Invalid("password must have at least 10 characters", field="password")) == {
        "password": "password must have at least 10 characters"}
    assert form_errors(NotFound("no such client"), default="client_id") == {"client_id": "no such client"}
    assert form_errors(Invalid("body.body.due_on: Input should be a valid date (the amended record is an invoice)",
                               field="body.body.due_on"), rename=lambda f: f.rsplit(".", 1)[-1]) == {
        "due_on": "Input should be a valid date (the amended record is an invoice)"}


def test_the_first_error_of_a_field_is_the_one_shown():
    with pytest.raises(ValidationError) as caught:
        Form.model_validate({"name": "a", "rate_minor": 1, "contacts": [{"email": "toolong"}, {"email": "long2!"}]})
    assert form_errors(caught.value) == {"contacts.email": "String should have at most 5 characters"}


def test_no_page_module_imports_another_page_module_or_an_api_module():
    """The engagement page has one owner (service/engagements/context.py); a page that needs part of another
    page's context asks that builder, not the other page."""
    import ast
    from pathlib import Path

    service = Path(__file__).resolve().parents[1] / "service"
    found = []
    for page in service.glob("*/pages.py"):
        for node in ast.walk(ast.parse(page.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[-1] in ("pages", "api"):
                found.append(f"{page.parent.name}/pages.py imports {node.module}")
    assert found == []
