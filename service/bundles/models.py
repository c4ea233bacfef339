"""What an export asks for over the API."""

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StrictInt

from service.fields import MAX_ID, Day

Index = Annotated[StrictInt, Field(ge=0, le=MAX_ID)]


class BundleRequest(BaseModel):
    """Which records the bundle discloses: those matching every date and kind given, plus the listed indices.
    Nothing given: the whole engagement."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True, str_strip_whitespace=True)
    from_: Day | None = Field(default=None, alias="from", description="first day (UTC) of records to disclose")
    to: Day | None = Field(default=None, description="last day (UTC) of records to disclose")
    kinds: list[Annotated[str, Field(min_length=1, max_length=64)]] = Field(
        default_factory=list, max_length=100, description="record kinds to disclose")
    indices: list[Index] = Field(default_factory=list, max_length=10_000,
                                 description="records disclosed whatever the filters")
    recipient: str | None = Field(default=None, max_length=200, description="for whom the bundle is made")
