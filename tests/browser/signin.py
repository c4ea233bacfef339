"""Signing a browser in as a person does: the one-time link's page, then its button."""


def open_link(page, link: str) -> None:
    page.goto(link)
    page.get_by_role("button", name="Sign in as").click()
    page.wait_for_url(lambda url: "/login/link/" not in url)
