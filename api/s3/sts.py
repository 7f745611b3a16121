"""STS AssumeRoleWithWebIdentity on the S3 door (issue 24), as MinIO offers it: an ID
token of the configured OpenID Connect issuer buys temporary credentials (a session
access key, secret and token) for the user it names."""

from __future__ import annotations

from datetime import UTC, datetime
from urllib.parse import parse_qsl
from xml.sax.saxutils import escape

from starlette.responses import Response

from api.blocking import blocking
from api.context import new_request_id
from api.s3.common import Call
from api.sessions import DEFAULT_SECONDS, MAX_SECONDS, MIN_SECONDS, open_session
from domain.errors import IdentityTokenRefused, IssuerUnreachable, TokenExpired

NS = "https://sts.amazonaws.com/doc/2011-06-15/"
MAX_BODY_BYTES = 64 * 1024


def _error(code: str, message: str, status: int = 400) -> Response:
    body = (f'<?xml version="1.0" encoding="UTF-8"?>\n<ErrorResponse xmlns="{NS}"><Error>'
            f"<Type>Sender</Type><Code>{code}</Code><Message>{escape(message)}</Message>"
            f"</Error><RequestId>{new_request_id()}</RequestId></ErrorResponse>")
    return Response(body, status, media_type="text/xml")


async def _params(call: Call) -> dict[str, str]:
    data = bytearray()
    async for piece in call.request.stream():
        data += piece
        if len(data) > MAX_BODY_BYTES:
            break
    return dict(parse_qsl(bytes(data[:MAX_BODY_BYTES]).decode("utf-8", "replace"),
                          keep_blank_values=True))


async def assume_role_with_web_identity(call: Call) -> Response:
    params = await _params(call)
    if params.get("Action") != "AssumeRoleWithWebIdentity":
        return _error("InvalidAction", f"Could not find operation "
                      f"{params.get('Action', '')[:64]!r}: strata's STS offers "
                      "AssumeRoleWithWebIdentity")
    oidc = call.system.oidc
    if oidc is None:
        return _error("InvalidParameterValue", "Single sign-on is not configured: the "
                      "operator sets STRATA_OIDC_ISSUER and STRATA_OIDC_CLIENT_ID")
    token = params.get("WebIdentityToken", "")
    if not token:
        return _error("MissingParameter", "WebIdentityToken is required")
    raw_seconds = params.get("DurationSeconds", str(DEFAULT_SECONDS))
    if not raw_seconds.isdigit() or not MIN_SECONDS <= int(raw_seconds) <= MAX_SECONDS:
        return _error("ValidationError", f"DurationSeconds is {MIN_SECONDS} to {MAX_SECONDS}")
    try:
        claims = await blocking(oidc.verify, token)
        principal = oidc.principal(claims)
    except TokenExpired as exc:
        return _error("ExpiredTokenException", exc.message)
    except IdentityTokenRefused as exc:
        return _error("InvalidIdentityToken", exc.message)
    except IssuerUnreachable as exc:
        return _error("IDPCommunicationError", exc.message)
    session = open_session(call.system, principal, int(raw_seconds))
    expires = datetime.fromtimestamp(session.expires, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    subject = escape(str(claims.get("sub", ""))[:256])
    user = escape(principal.user)
    body = (
        f'<?xml version="1.0" encoding="UTF-8"?>\n<AssumeRoleWithWebIdentityResponse '
        f'xmlns="{NS}"><AssumeRoleWithWebIdentityResult>'
        f"<SubjectFromWebIdentityToken>{subject}</SubjectFromWebIdentityToken>"
        f"<Audience>{escape(oidc_audience(claims))}</Audience>"
        f"<AssumedRoleUser><Arn>arn:aws:sts:::assumed-role/strata/{user}</Arn>"
        f"<AssumedRoleId>{escape(session.access_key)}:{user}</AssumedRoleId></AssumedRoleUser>"
        f"<Credentials><AccessKeyId>{session.access_key}</AccessKeyId>"
        f"<SecretAccessKey>{escape(session.secret_key)}</SecretAccessKey>"
        f"<SessionToken>{escape(session.token)}</SessionToken>"
        f"<Expiration>{expires}</Expiration></Credentials>"
        f"</AssumeRoleWithWebIdentityResult><ResponseMetadata><RequestId>{new_request_id()}"
        f"</RequestId></ResponseMetadata></AssumeRoleWithWebIdentityResponse>")
    return Response(body, 200, media_type="text/xml")


def oidc_audience(claims: dict[str, object]) -> str:
    audience = claims.get("aud", "")
    return str(audience[0] if isinstance(audience, list) and audience else audience)[:256]
