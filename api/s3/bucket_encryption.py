"""Put/Get/DeleteBucketEncryption: the encryption new objects of a bucket get when they
ask for none (issue 25)."""

from __future__ import annotations

from starlette.responses import Response

from api.blocking import blocking
from api.s3.bucket_settings import remove_bucket_setting
from api.s3.common import Call
from api.s3.errors import MalformedXML, NoSuchConfiguration
from api.s3.integrity import read_small_body
from api.s3.xml import Node, child_text, parse, xml_response
from domain.access import Action
from domain.records import DefaultEncryption


async def get_encryption(call: Call) -> Response:
    info = await call.bucket_info(Action.ADMINISTER_BUCKET)
    if info.encryption is None:
        raise NoSuchConfiguration("The server side encryption configuration was not found",
                                  "ServerSideEncryptionConfigurationNotFoundError",
                                  bucket=call.bucket)
    default: list[Node] = [("SSEAlgorithm", info.encryption["mode"])]
    if "kms_key" in info.encryption:
        default.append(("KMSMasterKeyID", info.encryption["kms_key"]))
    return xml_response("ServerSideEncryptionConfiguration", [
        ("Rule", [("ApplyServerSideEncryptionByDefault", default),
                  ("BucketKeyEnabled", False)])])


async def put_encryption(call: Call) -> Response:
    await call.bucket_info(Action.ADMINISTER_BUCKET)
    config = parse(await read_small_body(call), "ServerSideEncryptionConfiguration")
    rule = config.find("Rule")
    default = rule.find("ApplyServerSideEncryptionByDefault") if rule is not None else None
    if default is None:
        raise MalformedXML("A ServerSideEncryptionConfiguration holds a Rule with "
                           "ApplyServerSideEncryptionByDefault")
    encryption = DefaultEncryption(mode=(child_text(default, "SSEAlgorithm") or "")[:32])
    key = child_text(default, "KMSMasterKeyID")
    if key:
        if encryption["mode"] != "aws:kms":
            raise MalformedXML("KMSMasterKeyID goes with SSEAlgorithm aws:kms")
        encryption["kms_key"] = key.rsplit("/", 1)[-1][:256]
    if encryption.get("kms_key"):
        await blocking(call.system.keys.info, encryption["kms_key"])  # the key must exist
    await blocking(call.system.store.configure_encryption, call.bucket, encryption,
                   call.meta, call.now)
    return Response(status_code=200)


async def delete_encryption(call: Call) -> Response:
    return await remove_bucket_setting(call, call.system.store.configure_encryption)