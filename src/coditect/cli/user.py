"""``coditect user``: your account on the CODITECT cloud (docs/account.md).

Passwords are read without echo, or from standard input with ``--password-stdin``.
Tokens go to the OS keyring, or to a file only you can read; ``whoami`` says which.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Annotated, Any

import typer

if TYPE_CHECKING:
    from coditect.client.api import CloudClient

app = typer.Typer(
    help="Your account on the CODITECT cloud: register, sign in and out, sessions.",
    no_args_is_help=True,
)

Json = Annotated[bool, typer.Option("--json", help="Print JSON.")]
Server = Annotated[
    str | None,
    typer.Option(
        "--server", help="The service's address (default: [cloud] server).", show_default=False
    ),
]
Email = Annotated[str, typer.Argument(help="The account's email.", show_default=False)]
PasswordStdin = Annotated[
    bool,
    typer.Option("--password-stdin", help="Read the password from standard input (scripts)."),
]


def _client(server: str | None) -> CloudClient:
    from coditect.client.account import client_for, load_client_config

    return client_for(load_client_config(), server)


def read_password(from_stdin: bool, *, confirm: bool, label: str = "Password") -> str:
    """A password from standard input, or asked twice (``confirm``) without echo."""
    from coditect.errors import UsageError

    if from_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
        if not password:
            raise UsageError("no password on standard input", "Pipe it in: `… --password-stdin`.")
        return password
    if not sys.stdin.isatty():
        raise UsageError("no terminal to ask for the password", "Pass --password-stdin.")
    return str(typer.prompt(label, hide_input=True, confirmation_prompt=confirm))


def _show_user(user: dict[str, Any], server: str, credentials: str) -> None:
    from coditect.cli._output import out

    out(f"email        {user.get('email')}")
    out(f"id           {user.get('id')}")
    out(f"role         {user.get('role')}")
    out(f"server       {server}")
    out(f"credentials: {credentials}")


@app.command()
def register(
    email: Email,
    password_stdin: PasswordStdin = False,
    server: Server = None,
    as_json: Json = False,
) -> None:
    """Create an account (the password is asked twice, without echo)."""
    from coditect.cli._output import emit_json, out
    from coditect.client import account

    client = _client(server)
    password = read_password(password_stdin, confirm=True)
    with client:
        user = account.register(client, email, password)
    if as_json:
        emit_json({**user, "server": client.server})
    else:
        out(f"Created the account {user['email']} on {client.server}.")
        out(f"Sign in with `coditect user login {user['email']}`.")


@app.command()
def login(
    email: Email,
    password_stdin: PasswordStdin = False,
    server: Server = None,
    as_json: Json = False,
) -> None:
    """Sign in; the tokens go to the OS keyring or a file only you can read."""
    from coditect.cli._output import emit_json, out
    from coditect.client import account

    client = _client(server)
    password = read_password(password_stdin, confirm=False)
    with client:
        session, user = account.login(client, email, password)
    assert client.credentials is not None
    where = client.credentials.location
    if as_json:
        emit_json(
            {
                "server": client.server,
                "user": user,
                "session_id": session.session_id,
                "credentials": where.to_dict(),
            }
        )
    else:
        out(f"Signed in to {client.server} as {session.email}.")
        out(f"credentials: {where.describe()}")


@app.command()
def logout(server: Server = None, as_json: Json = False) -> None:
    """End this session on the service and forget its tokens here."""
    from coditect.cli._output import emit_json, out, warn
    from coditect.client import account

    client = _client(server)
    with client:
        result = account.logout(client)
    if as_json:
        emit_json(
            {
                "server": client.server,
                "email": result.email,
                "ended_on_server": result.ended_on_server,
                "problem": result.problem or None,
            }
        )
        return
    if result.email is None and not result.problem:
        out(f"Not signed in to {client.server}.")
        return
    out(f"Signed out of {client.server}; the tokens on this machine are deleted.")
    if result.problem:
        warn(
            f"the service did not end the session: {result.problem}",
            "It ends by itself when it expires; `coditect user sessions` lists sessions.",
        )


@app.command()
def whoami(server: Server = None, as_json: Json = False) -> None:
    """The signed-in account, and where its credentials are kept."""
    from coditect.cli._output import emit_json
    from coditect.client import account

    client = _client(server)
    with client:
        user = account.whoami(client)
        session_id = client.session().session_id
    assert client.credentials is not None
    where = client.credentials.location
    if as_json:
        emit_json(
            {
                **user,
                "server": client.server,
                "session_id": session_id,
                "credentials": where.to_dict(),
            }
        )
    else:
        _show_user(user, client.server, where.describe())


@app.command("reset-password")
def reset_password(
    email: Annotated[
        str | None, typer.Argument(help="The account's email (to ask for a code).")
    ] = None,
    code: Annotated[
        str | None,
        typer.Option("--code", help="The code from the mail: set a new password with it."),
    ] = None,
    password_stdin: PasswordStdin = False,
    server: Server = None,
) -> None:
    """Ask for a reset code by mail (EMAIL), then set a new password with it (--code)."""
    from coditect.cli._output import out
    from coditect.client import account
    from coditect.errors import UsageError

    if (email is None) == (code is None):
        raise UsageError(
            "give either an EMAIL (to ask for a code) or --code CODE (to use it)",
            "First `coditect user reset-password EMAIL`, then "
            "`coditect user reset-password --code CODE`.",
        )
    client = _client(server)
    with client:
        if email is not None:
            out(account.request_reset(client, email))
            out("Then run `coditect user reset-password --code CODE` with the code from the mail.")
            return
        assert code is not None
        password = read_password(password_stdin, confirm=True, label="New password")
        account.confirm_reset(client, code.strip(), password)
    out("The password is changed, and every session of the account has ended.")
    out("Sign in again with `coditect user login EMAIL`.")


@app.command()
def sessions(
    end: Annotated[
        str | None,
        typer.Option("--end", help="End the session with this id (signs that device out)."),
    ] = None,
    server: Server = None,
    as_json: Json = False,
) -> None:
    """List your live sessions (this one is marked), or end one with --end."""
    from coditect.cli._output import emit_json, out, print_table
    from coditect.client import account

    client = _client(server)
    with client:
        if end is not None:
            was_current = account.end_session(client, end)
            if as_json:
                emit_json({"ended": end, "signed_out": was_current})
            else:
                out(
                    f"Ended session {end}." + (" This device is signed out." if was_current else "")
                )
            return
        items = account.list_sessions(client)
    if as_json:
        emit_json(items)
        return
    rows = [
        [
            ("* " if s.get("current") else "  ") + str(s.get("id")),
            s.get("created_at"),
            s.get("last_used_at"),
            s.get("ip") or "",
            s.get("user_agent") or "",
        ]
        for s in items
    ]
    print_table(["ID", "CREATED", "LAST USED", "IP", "CLIENT"], rows)
