"""S3 XML in and out. Output is built from (tag, content) trees; input is parsed with
defusedxml (no entities, no external references) and namespaces are dropped."""

from __future__ import annotations

from collections.abc import Iterable
from xml.etree.ElementTree import Element
from xml.sax.saxutils import escape

from defusedxml import ElementTree
from defusedxml.common import DefusedXmlException
from starlette.responses import Response

from api.s3.errors import MalformedXML

S3_NS = "http://s3.amazonaws.com/doc/2006-03-01/"
XSI_NS = "http://www.w3.org/2001/XMLSchema-instance"
MAX_XML_BYTES = 2 * 1024 * 1024

Node = tuple[str, "str | int | bool | Iterable[Node | Raw] | None"]


def _text(value: str | int | bool) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return escape(str(value))


class Raw(str):
    """A node already rendered: for the thousand entries of a listing page, where the
    generic walk costs more than everything else the request does."""

    __slots__ = ()


def render(node: Node | Raw) -> str:
    if isinstance(node, Raw):
        return node
    tag, content = node
    if content is None:
        return ""
    if isinstance(content, str | int | bool):
        return f"<{tag}>{_text(content)}</{tag}>"
    inner = "".join(render(child) for child in content)
    # A tag may carry attributes ("Grantee xsi:type=..."); it closes by its name alone.
    return f"<{tag}>{inner}</{tag.split(' ', 1)[0]}>"


def _wrap(root: str, inner: str) -> bytes:
    return (
        f'<?xml version="1.0" encoding="UTF-8"?>\n<{root} xmlns="{S3_NS}">{inner}</{root}>'
    ).encode()


def document(root: str, children: Iterable[Node | Raw]) -> bytes:
    return _wrap(root, "".join(render(child) for child in children))


def xml_response(
    root: str, children: Iterable[Node | Raw], headers: dict[str, str] | None = None
) -> Response:
    return Response(document(root, children), 200, headers, media_type="application/xml")


def _strip(element: Element) -> Element:
    for node in element.iter():
        if isinstance(node.tag, str) and "}" in node.tag:
            node.tag = node.tag.split("}", 1)[1]
        for name in list(node.attrib):
            if "}" in name:
                node.attrib[name.split("}", 1)[1]] = node.attrib.pop(name)
    return element


def parse(body: bytes, root: str) -> Element:
    if len(body) > MAX_XML_BYTES:
        raise MalformedXML("The XML you provided is too large")
    try:
        element = _strip(ElementTree.fromstring(body))
    except (ElementTree.ParseError, DefusedXmlException, ValueError):
        raise MalformedXML(
            "The XML you provided was not well-formed or did not validate against our "
            "published schema"
        ) from None
    if element.tag != root:
        raise MalformedXML(f"Expected a <{root}> document, not <{element.tag}>")
    return element


def child_text(element: Element, tag: str, default: str | None = None) -> str | None:
    found = element.find(tag)
    if found is None:
        return default
    return found.text or ""


def text_response(root: str, text: str) -> Response:
    """A document whose root holds only text, as GetBucketLocation answers."""
    return Response(_wrap(root, escape(text)), 200, media_type="application/xml")
