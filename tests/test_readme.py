"""The README's command-line examples work as printed, in order, right after `make run`
(which seeds the demo), and the token they make does what the API examples after them do."""
from __future__ import annotations

import json
import re
import shlex
from pathlib import Path

from webapp.models import User

README = Path(__file__).resolve().parents[1] / "README.md"
# Long-running or machine-level commands, and lines that show options in [brackets].
# Long-running or machine-level commands, lines that show options in [brackets], and the one
# that reads a file the reader writes first.
NOT_RUN = ("db upgrade", "jobs worker", "jobs scheduler", "--enqueue", "[", "schema.json")


def command_lines() -> list[str]:
    """The `flask --app app …` lines of the Command line section, continuations joined."""
    section = README.read_text().split("## Command line", 1)[1]
    block = section.split("```sh", 1)[1].split("```", 1)[0]
    commands, pending = [], ""
    for line in block.splitlines():
        code = re.split(r"\s#\s", line, maxsplit=1)[0].rstrip() if "#" in line else line.rstrip()
        if pending:
            code, pending = pending + " " + code.strip(), ""
        if code.endswith("\\"):
            pending = code[:-1].strip()
            continue
        if code.strip().startswith("flask --app app"):
            commands.append(code.strip())
    return commands


def test_the_command_line_examples_work_in_order_after_the_demo_seed(app, client):
    runner = app.test_cli_runner()
    assert runner.invoke(args=["demo", "seed"]).exit_code == 0  # what `make run` did first
    demo_users = {u.username for u in User.query.all()}
    outputs: dict[str, str] = {}
    lines = command_lines()
    assert len(lines) >= 12
    for line in lines:
        if any(marker in line for marker in NOT_RUN):
            continue
        if "CLIENT_ID" in line:
            line = line.replace("CLIENT_ID", json.loads(outputs["Acme web"])["client_id"])
        args = shlex.split(line)[3:]  # after `flask --app app`
        typed = "a new s3cret phrase\n" * 2 if args[:2] == ["users", "set-password"] else None
        result = runner.invoke(args=args, input=typed)
        assert result.exit_code == 0, f"{line}\n{result.output}"
        if args[:2] == ["users", "create"]:
            assert args[2] not in demo_users, f"the demo seed made {args[2]} already"
        if args[:2] == ["clients", "create"]:
            outputs[args[2]] = result.output
        outputs.setdefault(" ".join(args[:2]), result.output)  # the first of each kind

    # The token the examples issued reads and writes, as the API examples after them do.
    token = json.loads(outputs["clients issue-token"])["access_token"]
    headers = {"Authorization": f"Bearer {token}"}
    response = client.put("/api/v2/metadata/theme", json={"value": "dark"}, headers=headers)
    assert response.status_code == 201, response.json
    assert client.get("/api/v2/metadata/theme", headers=headers).json == {
        "key": "theme", "value": "dark", "expires_at": None}
    assert client.delete("/api/v2/metadata/theme", headers=headers).status_code == 204
    # ... and the API token of the tenant admin reads a member's document.
    api_token = json.loads(outputs["tokens create"])["token"]
    response = client.get("/api/core/users/platform-metadata/",
                          query_string={"platform_key": "acme-corp", "username": "dave"},
                          headers={"Authorization": f"Token {api_token}"})
    assert response.status_code == 200 and response.json["username"] == "dave"
