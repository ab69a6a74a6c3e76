"""Secret files (Temporal API key, codec keys) are refused when the group or others may read them."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from adeflow.cli.main import cli
from adeflow.client.codec import CodecKeyError, CodecKeys, new_key_line
from adeflow.inputs.settings import Settings

pytestmark = [pytest.mark.unit, pytest.mark.security]


def secret(tmp_path: Path, name: str, text: str, mode: int) -> Path:
    path = tmp_path / name
    path.write_text(text)
    path.chmod(mode)
    return path


@pytest.mark.parametrize("mode", [0o644, 0o640, 0o604, 0o620], ids=oct)
def test_an_api_key_file_open_to_group_or_others_is_refused_naming_the_file_and_the_fix(
    tmp_path: Path, mode: int
) -> None:
    path = secret(tmp_path, "api-key", "tcld-secret-key\n", mode)
    with pytest.raises(ValueError) as raised:
        Settings.from_env({"ADEFLOW_TEMPORAL_API_KEY_FILE": str(path)})
    message = str(raised.value)
    assert f"ADEFLOW_TEMPORAL_API_KEY_FILE={path} is accessible to its group or to others (mode {mode:o})" in message
    assert f"chmod 600 {path}" in message
    assert "tcld-secret-key" not in message


@pytest.mark.parametrize("mode", [0o600, 0o400], ids=oct)
def test_an_owner_only_api_key_file_is_read(tmp_path: Path, mode: int) -> None:
    path = secret(tmp_path, "api-key", "tcld-secret-key\n", mode)
    assert Settings.from_env({"ADEFLOW_TEMPORAL_API_KEY_FILE": str(path)}).temporal.api_key == "tcld-secret-key"


def test_a_codec_key_file_open_to_others_is_refused(tmp_path: Path) -> None:
    line = new_key_line("k2026")
    path = secret(tmp_path, "codec-keys", line + "\n", 0o644)
    with pytest.raises(CodecKeyError) as raised:
        CodecKeys.from_env({"ADEFLOW_CODEC_KEY_FILE": str(path)})
    assert f"ADEFLOW_CODEC_KEY_FILE={path} is accessible to its group or to others (mode 644)" in str(raised.value)
    assert f"chmod 600 {path}" in str(raised.value)
    assert line.split()[1] not in str(raised.value)
    path.chmod(0o600)
    assert CodecKeys.from_env({"ADEFLOW_CODEC_KEY_FILE": str(path)}) is not None


def test_the_worker_stops_at_start_with_one_line_and_exit_2(tmp_path: Path) -> None:
    path = secret(tmp_path, "api-key", "tcld-secret-key\n", 0o644)
    result = CliRunner().invoke(cli, ["worker", "--check"], env={"ADEFLOW_TEMPORAL_API_KEY_FILE": str(path)})
    assert result.exit_code == 2, result.output
    assert f"chmod 600 {path}" in result.output
    assert "Traceback" not in result.output
