"""`routewatch users`: web users."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from routewatch.cli.common import fail, now, open_store, out, store_options, store_url


@click.group()
def users() -> None:
    """Web users (there is no default account: create the first admin here)."""


@users.command(name="add")
@click.argument("username")
@click.option("--role", type=click.Choice(["field", "commander", "planner", "admin"]), required=True)
@store_options
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input (for scripts).")
def users_add(username: str, role: str, db: str | None, config: Path | None, password_stdin: bool) -> None:
    """Create a user with a role; the password is asked for (never an argument, so not in shell history)."""
    from routewatch.store.users import create_user

    if password_stdin:
        password = sys.stdin.readline().rstrip("\n")
    else:
        password = click.prompt("password", hide_input=True, confirmation_prompt=True)
    store = open_store(store_url(config, db))
    try:
        user = create_user(store.users, username, password, role, at=now())
    except ValueError as exc:
        fail(str(exc))
    finally:
        store.close()
    out.print(f"user {user.username} ({user.role}) created")
