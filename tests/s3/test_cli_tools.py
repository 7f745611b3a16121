"""The AWS CLI, rclone and s3fs against a real strata serve, unchanged."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import ROOT_AK, ROOT_SK, Server

MiB = 1024 * 1024


def _tool(name: str) -> str:
    local = Path(sys.executable).parent / name
    found = str(local) if local.exists() else shutil.which(name)
    if found is None:
        pytest.fail(f"{name} is not installed; `make setup` installs it (Debian: apt-get "
                    f"install {name})")
    return found


def _run(args: list[str], env: dict[str, str], timeout: float = 120) -> str:
    done = subprocess.run(args, env=env, capture_output=True, text=True, timeout=timeout)
    assert done.returncode == 0, f"{args[0]} failed: {done.stdout}\n{done.stderr}"
    return done.stdout


@pytest.fixture(scope="module")
def aws_env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    home = tmp_path_factory.mktemp("aws-home")
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(AWS_ACCESS_KEY_ID=ROOT_AK, AWS_SECRET_ACCESS_KEY=ROOT_SK,
               AWS_DEFAULT_REGION="us-east-1", HOME=str(home),
               AWS_CONFIG_FILE=str(home / "config"),
               AWS_SHARED_CREDENTIALS_FILE=str(home / "credentials"))
    return env


def test_aws_cli_s3_commands(
    s3_server: Server, s3: Any, bucket: str, aws_env: dict[str, str], tmp_path: Path
) -> None:
    aws = [_tool("aws"), "--endpoint-url", s3_server.s3]
    tree = tmp_path / "tree"
    (tree / "sub").mkdir(parents=True)
    (tree / "a.txt").write_text("alpha")
    (tree / "sub" / "b.txt").write_text("beta")
    big = tmp_path / "big.bin"
    big.write_bytes(os.urandom(9 * MiB))  # over the CLI's 8 MiB multipart threshold
    _run([*aws, "s3", "cp", str(big), f"s3://{bucket}/big.bin"], aws_env)
    _run([*aws, "s3", "sync", str(tree), f"s3://{bucket}/tree"], aws_env)
    listing = _run([*aws, "s3", "ls", "--recursive", f"s3://{bucket}"], aws_env)
    assert "big.bin" in listing and "tree/a.txt" in listing and "tree/sub/b.txt" in listing
    assert s3.head_object(Bucket=bucket, Key="big.bin")["ETag"].strip('"').endswith("-2")
    back = tmp_path / "back.bin"
    _run([*aws, "s3", "cp", f"s3://{bucket}/big.bin", str(back)], aws_env)
    assert back.read_bytes() == big.read_bytes()
    again = _run([*aws, "s3", "sync", str(tree), f"s3://{bucket}/tree"], aws_env)
    assert "upload:" not in again  # nothing changed, nothing sent
    _run([*aws, "s3", "rm", "--recursive", f"s3://{bucket}/tree"], aws_env)
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket=bucket).get("Contents", [])]
    assert keys == ["big.bin"]


def test_aws_cli_s3api_calls(
    s3_server: Server, bucket: str, aws_env: dict[str, str], tmp_path: Path
) -> None:
    api = [_tool("aws"), "--endpoint-url", s3_server.s3, "s3api"]
    body = tmp_path / "body.txt"
    body.write_text("through s3api")
    _run([*api, "put-bucket-versioning", "--bucket", bucket,
          "--versioning-configuration", "Status=Enabled"], aws_env)
    _run([*api, "put-object", "--bucket", bucket, "--key", "doc", "--body", str(body),
          "--metadata", "team=storage"], aws_env)
    head = _run([*api, "head-object", "--bucket", bucket, "--key", "doc"], aws_env)
    assert '"team": "storage"' in head
    out = tmp_path / "out.txt"
    _run([*api, "get-object", "--bucket", bucket, "--key", "doc", str(out)], aws_env)
    assert out.read_text() == "through s3api"
    versions = _run([*api, "list-object-versions", "--bucket", bucket], aws_env)
    assert '"IsLatest": true' in versions


def test_rclone_copy_check_and_delete(
    s3_server: Server, s3: Any, bucket: str, tmp_path: Path
) -> None:
    rclone = _tool("rclone")
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(RCLONE_CONFIG_STRATA_TYPE="s3", RCLONE_CONFIG_STRATA_PROVIDER="Other",
               RCLONE_CONFIG_STRATA_ACCESS_KEY_ID=ROOT_AK,
               RCLONE_CONFIG_STRATA_SECRET_ACCESS_KEY=ROOT_SK,
               RCLONE_CONFIG_STRATA_ENDPOINT=s3_server.s3,
               RCLONE_CONFIG_STRATA_REGION="us-east-1",
               RCLONE_CONFIG=str(tmp_path / "rclone.conf"))
    source = tmp_path / "src"
    (source / "deep" / "er").mkdir(parents=True)
    (source / "one.txt").write_text("one")
    (source / "deep" / "er" / "two.bin").write_bytes(os.urandom(6 * MiB))
    (source / "spaced name+plus.txt").write_text("awkward")
    _run([rclone, "copy", str(source), f"strata:{bucket}/r"], env)
    _run([rclone, "check", str(source), f"strata:{bucket}/r"], env)
    listed = _run([rclone, "lsf", "-R", f"strata:{bucket}/r"], env)
    assert "deep/er/two.bin" in listed and "spaced name+plus.txt" in listed
    back = tmp_path / "back"
    _run([rclone, "copy", f"strata:{bucket}/r", str(back)], env)
    assert (back / "deep" / "er" / "two.bin").read_bytes() == (
        source / "deep" / "er" / "two.bin").read_bytes()
    _run([rclone, "delete", f"strata:{bucket}/r"], env)
    assert s3.list_objects_v2(Bucket=bucket)["KeyCount"] == 0


def test_s3fs_mount_reads_and_writes(
    s3_server: Server, s3: Any, bucket: str, tmp_path: Path
) -> None:
    s3fs = _tool("s3fs")
    if not Path("/dev/fuse").exists():
        pytest.fail("s3fs needs /dev/fuse")
    s3.put_object(Bucket=bucket, Key="seen-by-fuse.txt", Body=b"from boto3")
    passwd = tmp_path / "passwd"
    passwd.write_text(f"{ROOT_AK}:{ROOT_SK}")
    passwd.chmod(0o600)
    mount = tmp_path / "mnt"
    mount.mkdir()
    log_path = tmp_path / "s3fs.log"
    log = log_path.open("wb")
    process = subprocess.Popen(
        [s3fs, bucket, str(mount), "-f", "-o", f"url={s3_server.s3}",
         "-o", "use_path_request_style",
         "-o", f"passwd_file={passwd}", "-o", "endpoint=us-east-1", "-o", "sigv4",
         "-o", "stat_cache_expire=1", "-o", "enable_noobj_cache"],
        stdout=log, stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 20
        while not os.path.ismount(mount):
            if process.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"s3fs did not mount: {log_path.read_text()}")
            time.sleep(0.2)
        assert (mount / "seen-by-fuse.txt").read_bytes() == b"from boto3"
        (mount / "written-by-fuse.txt").write_bytes(b"from the mount")
        (mount / "folder").mkdir()
        (mount / "folder" / "inner.txt").write_text("inner")
        assert sorted(os.listdir(mount)) == ["folder", "seen-by-fuse.txt", "written-by-fuse.txt"]
    finally:
        subprocess.run(["fusermount", "-u", str(mount)], capture_output=True, timeout=30)
        try:
            process.wait(15)
        except subprocess.TimeoutExpired:
            process.kill()
        log.close()
    got = s3.get_object(Bucket=bucket, Key="written-by-fuse.txt")["Body"].read()
    assert got == b"from the mount"
    assert s3.get_object(Bucket=bucket, Key="folder/inner.txt")["Body"].read() == b"inner"


@pytest.mark.slow  # 25 s; the README's tags, lifecycle and object lock block runs these
def test_aws_cli_s3api_governance_commands(
    s3_server: Server, aws_env: dict[str, str], tmp_path: Path
) -> None:
    """The AWS CLI's lifecycle, tagging and object-lock commands, unchanged (issue 23)."""
    import json

    api = [_tool("aws"), "--endpoint-url", s3_server.s3, "s3api"]
    bucket = "cli-governance"
    _run([*api, "create-bucket", "--bucket", bucket, "--object-lock-enabled-for-bucket"],
         aws_env)
    lifecycle = tmp_path / "lifecycle.json"
    lifecycle.write_text(json.dumps({"Rules": [
        {"ID": "old-logs", "Status": "Enabled", "Filter": {"Prefix": "logs/"},
         "Expiration": {"Days": 30},
         "NoncurrentVersionExpiration": {"NoncurrentDays": 7},
         "AbortIncompleteMultipartUpload": {"DaysAfterInitiation": 2}}]}))
    _run([*api, "put-bucket-lifecycle-configuration", "--bucket", bucket,
          "--lifecycle-configuration", f"file://{lifecycle}"], aws_env)
    rules = json.loads(_run([*api, "get-bucket-lifecycle-configuration", "--bucket", bucket],
                            aws_env))["Rules"]
    assert rules[0]["ID"] == "old-logs" and rules[0]["Expiration"] == {"Days": 30}
    _run([*api, "put-bucket-tagging", "--bucket", bucket, "--tagging",
          "TagSet=[{Key=project,Value=alpha}]"], aws_env)
    assert json.loads(_run([*api, "get-bucket-tagging", "--bucket", bucket], aws_env))[
        "TagSet"] == [{"Key": "project", "Value": "alpha"}]
    body = tmp_path / "body.txt"
    body.write_text("kept")
    put = json.loads(_run([*api, "put-object", "--bucket", bucket, "--key", "logs/a",
                           "--body", str(body), "--tagging", "kind=log"], aws_env))
    version = put["VersionId"]
    head = json.loads(_run([*api, "head-object", "--bucket", bucket, "--key", "logs/a"],
                           aws_env))
    assert 'rule-id="old-logs"' in head["Expiration"]
    _run([*api, "put-object-tagging", "--bucket", bucket, "--key", "logs/a", "--tagging",
          "TagSet=[{Key=kind,Value=audit}]"], aws_env)
    assert json.loads(_run([*api, "get-object-tagging", "--bucket", bucket, "--key",
                            "logs/a"], aws_env))["TagSet"] == [{"Key": "kind",
                                                                "Value": "audit"}]
    _run([*api, "put-object-lock-configuration", "--bucket", bucket,
          "--object-lock-configuration",
          '{"ObjectLockEnabled": "Enabled", "Rule": {"DefaultRetention": '
          '{"Mode": "GOVERNANCE", "Days": 1}}}'], aws_env)
    lock = json.loads(_run([*api, "get-object-lock-configuration", "--bucket", bucket],
                           aws_env))
    assert lock["ObjectLockConfiguration"]["Rule"]["DefaultRetention"]["Days"] == 1
    _run([*api, "put-object-retention", "--bucket", bucket, "--key", "logs/a",
          "--version-id", version, "--retention",
          '{"Mode": "GOVERNANCE", "RetainUntilDate": "2099-01-01T00:00:00Z"}'], aws_env)
    _run([*api, "put-object-legal-hold", "--bucket", bucket, "--key", "logs/a",
          "--version-id", version, "--legal-hold", "Status=ON"], aws_env)
    assert json.loads(_run([*api, "get-object-legal-hold", "--bucket", bucket, "--key",
                            "logs/a"], aws_env))["LegalHold"]["Status"] == "ON"
    retention = json.loads(_run([*api, "get-object-retention", "--bucket", bucket, "--key",
                                 "logs/a"], aws_env))["Retention"]
    assert retention["Mode"] == "GOVERNANCE" and retention["RetainUntilDate"].startswith(
        "2099-01-01")
    refused = subprocess.run([*api, "delete-object", "--bucket", bucket, "--key", "logs/a",
                              "--version-id", version], env=aws_env, capture_output=True,
                             text=True, timeout=60)
    assert refused.returncode != 0 and "AccessDenied" in refused.stderr
    _run([*api, "put-object-legal-hold", "--bucket", bucket, "--key", "logs/a",
          "--version-id", version, "--legal-hold", "Status=OFF"], aws_env)
    _run([*api, "delete-object", "--bucket", bucket, "--key", "logs/a", "--version-id",
          version, "--bypass-governance-retention"], aws_env)
    _run([*api, "delete-bucket-lifecycle", "--bucket", bucket], aws_env)
    _run([*api, "delete-bucket-tagging", "--bucket", bucket], aws_env)
