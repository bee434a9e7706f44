"""Fixtures for upload tests: a host with the file-parse plugin's parsers and signed-in users."""

from __future__ import annotations

from dataclasses import dataclass

import chatnio_file_parse
import pytest

from chatnio_host.testing import TestHost


@dataclass
class Account:
    """A user of the test host and the session token to send as a bearer token."""

    id: int
    token: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


async def make_account(host: TestHost, username: str, *, admin: bool = False) -> Account:
    """Create a user through the auth service and issue a session token for it."""
    auth = host.ctx.services["auth"]
    async with host.ctx.db.transaction() as session:
        user = await auth.create_user(session, username=username, password="secret123", role="admin" if admin else "user")
    return Account(id=user.id, token=await auth.issue_token(user))


@pytest.fixture
async def files_host(host: TestHost) -> TestHost:
    """The stack's host with the parsers of ``chatnio_file_parse`` registered."""
    for parser in chatnio_file_parse.PARSERS:
        host.ctx.plugins.registry.add("file_parsers", parser, "file_parse")
    return host


@pytest.fixture
async def alice(files_host: TestHost) -> Account:
    return await make_account(files_host, "alice")


@pytest.fixture
async def bob(files_host: TestHost) -> Account:
    return await make_account(files_host, "bob")


@pytest.fixture
async def admin(files_host: TestHost) -> Account:
    return await make_account(files_host, "filesadmin", admin=True)
