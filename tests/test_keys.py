"""Keys are stripped and checked where they are read (costlab.keys), and no error costlab prints carries one.

A key pasted with its line break used to reach the HTTP library, whose error quoted the header
("Invalid header value b'sk-ant-admin01-...\\n'") and costlab printed it. These need no server, except
where one shows that the stripped key was the one sent."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from costlab import cli
from costlab.cli import app
from costlab.config import Config
from costlab.errors import ConfigError
from costlab.keys import REDACTED, check_key, redact
from costlab.open import open_store
from costlab.testing import TestServer

ADMIN = "sk-ant-admin01-Zq8SECRETadminKEY-0042"
API = "sk-ant-api03-Zq8SECRETapiKEY-0042"
runner = CliRunner()


def pull_usage(db, base_url: str = "http://127.0.0.1:9"):
    return runner.invoke(app, ["pull-usage", "--since", "2026-11-16", "--until", "2026-11-17", "--db", str(db),
                               "--base-url", base_url])


def test_admin_key_ending_in_a_line_break_is_stripped_sent_clean_and_never_printed(tmp_path, monkeypatch):
    monkeypatch.setenv("ANTHROPIC_ADMIN_KEY", ADMIN + "\n")
    with TestServer(api_key=ADMIN) as server:  # it has no Admin API: a 404 once the key is accepted
        r = pull_usage(tmp_path / "s.duckdb", server.url)
        sent = [e["auth"] for e in server.log]
    assert sent and set(sent) == {"x-api-key"}  # the header went out, with the key the server knows
    assert r.exit_code == 1 and "HTTP 404" in r.stderr
    assert "SECRET" not in r.output and "Invalid header" not in r.output


@pytest.mark.parametrize("bad", ["\x01", " ", "\n", "é"], ids=["control", "space", "inner-newline", "non-ascii"])
def test_admin_key_with_an_invalid_character_is_an_error_naming_the_variable_not_the_key(tmp_path, monkeypatch, bad):
    monkeypatch.setenv("ANTHROPIC_ADMIN_KEY", ADMIN[:20] + bad + ADMIN[20:])
    r = pull_usage(tmp_path / "s.duckdb")  # no server: it fails before any connection
    assert r.exit_code == 2, r.output
    assert r.stderr.startswith("Error: ANTHROPIC_ADMIN_KEY holds ") and "character 21 of" in r.stderr
    assert "SECRET" not in r.output and "Zq8" not in r.output


def test_replay_key_ending_in_a_line_break_is_stripped_and_the_calls_succeed(tmp_path, monkeypatch):
    from costlab import replay
    from helpers import ingest_log

    monkeypatch.setenv("ANTHROPIC_API_KEY", API + "\r\n")
    with open_store(tmp_path / "k.duckdb", Config(tiers={"haiku": "claude-haiku-5-5"})) as s:
        ingest_log(s, tmp_path, 6)
        with TestServer(api_key=API) as server:
            run, _ = replay.plan(s, replay.ReplaySpec(sample=3, tiers=["haiku"], run="k"))
            out = replay.execute(s, run, base_url=server.url)
        assert out.ok == 3 and server.answered(key=API) == 3
        monkeypatch.setenv("ANTHROPIC_API_KEY", API[:12] + "\t" + API[12:])
        run, _ = replay.plan(s, replay.ReplaySpec(sample=3, tiers=["haiku"], run="k2"))
        with TestServer() as server:
            with pytest.raises(ConfigError, match="ANTHROPIC_API_KEY holds a tab at character 13") as err:
                replay.execute(s, run, base_url=server.url)
            assert server.count(None) == 0
        assert "SECRET" not in str(err.value)


def test_cli_redacts_anything_like_a_key_from_every_error_it_prints(tmp_path):
    # A DuckDB error quotes the offending value: costlab's one error path must not print it as is.
    open_store(tmp_path / "r.duckdb").close()  # `costlab sql` opens the store read-only: it must exist
    for value in (API, "Bearer eyJhbGciOiJI.SECRET.sig", "x-api-key: SECRETvalue123"):
        r = runner.invoke(app, ["sql", f"select '{value}'::INTEGER", "--db", str(tmp_path / "r.duckdb")])
        assert r.exit_code == 1 and r.stderr.startswith("Error: ")
        assert "SECRET" not in r.stderr and REDACTED in r.stderr


def test_unexpected_errors_print_a_redacted_traceback_and_exit_1(monkeypatch, capsys):
    def boom():
        raise RuntimeError(f"Invalid header value b'{ADMIN}\\n' sent as x-api-key={API}")

    monkeypatch.setattr(cli, "app", boom)
    with pytest.raises(SystemExit) as ex:
        cli.main()
    err = capsys.readouterr().err
    assert ex.value.code == 1 and "Traceback" in err and "RuntimeError" in err
    assert "SECRET" not in err and err.count(REDACTED) >= 2


def test_redact_covers_key_shapes_and_the_values_of_credential_variables(monkeypatch):
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY")
    cases = {
        f"Invalid header value b'{ADMIN}\\n'": ADMIN,
        "Illegal header value b'Bearer abc.def.ghi'": "abc.def",
        "{'x-api-key': 'opaque-token-123'}": "opaque-token-123",
        "authorization: Bearer tok_987654321": "tok_987654321",
        "Credential=AKIAEXAMPLE/20261101/us-east-1/bedrock/aws4_request, Signature=deadbeef": "deadbeef",
        "signing with wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY failed": "EXAMPLEKEY",
    }
    for text, secret in cases.items():
        assert secret not in redact(text), text
    # Ordinary messages are left alone.
    plain = "no API key: set ANTHROPIC_API_KEY (or ANTHROPIC_AUTH_TOKEN) in the environment; 3 rows rejected"
    assert redact(plain) == plain


def test_check_key_strips_surrounding_whitespace_and_refuses_an_empty_value():
    assert check_key(f"  {API}\n", "K") == API
    with pytest.raises(ConfigError, match="K is set but empty"):
        check_key(" \n", "K")


def test_aws_keys_for_s3_are_stripped_and_checked_before_boto3_reads_them(monkeypatch):
    from costlab.ingest.s3 import client

    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIAEXAMPLE12345\n")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "wJalrXUtnFEMI/K7MDENG ZZVALUE")
    with pytest.raises(ConfigError, match="AWS_SECRET_ACCESS_KEY holds a space at character 22") as err:
        client("http://127.0.0.1:9")
    assert "ZZVALUE" not in str(err.value) and "wJalr" not in str(err.value)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "wJalrXUtnFEMI/K7MDENG/ZZVALUE\n")
    s3 = client("http://127.0.0.1:9")
    creds = s3._request_signer._credentials
    assert (creds.access_key, creds.secret_key) == ("AKIAEXAMPLE12345", "wJalrXUtnFEMI/K7MDENG/ZZVALUE")


def test_ingest_per_file_error_lines_are_redacted_too(tmp_path):
    # The ingest summary prints each failed file's error itself (the run goes on for the good files),
    # outside the one error path: a key quoted in a bad file's first line must not reach the terminal.
    bad = tmp_path / "keys.csv"
    bad.write_text(f"{API},x\n1,2\n")
    r = runner.invoke(app, ["ingest", str(bad), "--db", str(tmp_path / "k.duckdb")])
    assert "keys.csv" in r.stderr and "not a format costlab recognises" in r.stderr
    assert "SECRET" not in r.stderr and REDACTED in r.stderr
