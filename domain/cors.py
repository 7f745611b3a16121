"""CORS rules of a bucket, as S3 keeps and matches them (issue 24): pure functions."""

from __future__ import annotations

from typing import NotRequired, TypedDict

from domain.errors import InvalidArgument

MAX_RULES = 100
METHODS = ("GET", "PUT", "POST", "DELETE", "HEAD")
MAX_TEXT = 1024


class CorsRule(TypedDict):
    id: NotRequired[str]
    allowed_origins: list[str]
    allowed_methods: list[str]
    allowed_headers: list[str]
    expose_headers: list[str]
    max_age_seconds: NotRequired[int]


def check_cors_rules(rules: list[CorsRule]) -> list[CorsRule]:
    if not 1 <= len(rules) <= MAX_RULES:
        raise InvalidArgument(f"A CORS configuration has 1 to {MAX_RULES} rules")
    for rule in rules:
        if not rule["allowed_origins"] or not rule["allowed_methods"]:
            raise InvalidArgument("Each CORSRule names at least one AllowedOrigin and one "
                                  "AllowedMethod")
        for method in rule["allowed_methods"]:
            if method not in METHODS:
                raise InvalidArgument(f"Found unsupported HTTP method in CORS config. "
                                      f"Unsupported method is {method[:16]}")
        for origin in rule["allowed_origins"]:
            if origin.count("*") > 1:
                raise InvalidArgument(f'AllowedOrigin "{origin[:128]}" can not have more '
                                      "than one wildcard.")
        for header in rule["allowed_headers"]:
            if header.count("*") > 1:
                raise InvalidArgument(f'AllowedHeader "{header[:128]}" can not have more '
                                      "than one wildcard.")
        texts = [*rule["allowed_origins"], *rule["allowed_headers"], *rule["expose_headers"],
                 rule.get("id", "")]
        if any(len(t) > MAX_TEXT or not t.isprintable() for t in texts):
            raise InvalidArgument(f"CORS values are printable and at most {MAX_TEXT} "
                                  "characters")
        if not 0 <= rule.get("max_age_seconds", 0) <= 2**31 - 1:
            raise InvalidArgument("MaxAgeSeconds is a whole number of seconds")
    return rules


def _matches(pattern: str, text: str, ignore_case: bool = False) -> bool:
    """One `*` stands for any run of characters, as S3's CORS matching allows."""
    if ignore_case:
        pattern, text = pattern.lower(), text.lower()
    head, star, tail = pattern.partition("*")
    if not star:
        return pattern == text
    return len(text) >= len(head) + len(tail) and text.startswith(head) \
        and text.endswith(tail)


def matching_rule(rules: list[CorsRule] | None, origin: str, method: str,
                  request_headers: list[str]) -> CorsRule | None:
    """The first rule that allows `origin` to make a `method` request with these
    headers (a preflight's Access-Control-Request-Headers; none for an actual request)."""
    for rule in rules or ():
        if method not in rule["allowed_methods"]:
            continue
        if not any(_matches(o, origin) for o in rule["allowed_origins"]):
            continue
        if all(any(_matches(h, wanted, ignore_case=True) for h in rule["allowed_headers"])
               for wanted in request_headers):
            return rule
    return None


def response_headers(rule: CorsRule, origin: str, preflight: bool,
                     request_headers: list[str]) -> dict[str, str]:
    """The Access-Control-* headers a matching rule gives."""
    allow_origin = "*" if rule["allowed_origins"] == ["*"] else origin
    headers = {"access-control-allow-origin": allow_origin,
               "access-control-allow-methods": ", ".join(rule["allowed_methods"])}
    if allow_origin != "*":
        headers["access-control-allow-credentials"] = "true"
    if rule["expose_headers"]:
        headers["access-control-expose-headers"] = ", ".join(rule["expose_headers"])
    if preflight:
        if request_headers:
            headers["access-control-allow-headers"] = ", ".join(request_headers)
        if "max_age_seconds" in rule:
            headers["access-control-max-age"] = str(rule["max_age_seconds"])
    return headers
