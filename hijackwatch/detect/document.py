"""One parsed page shared by all detectors: tree, visible/hidden text, links, scripts.

The page is parsed once with lxml; facts are collected with lxml's C-level
iteration and XPath (no Python recursion, so deep nesting cannot exhaust the stack),
and every detector reads the collected facts. Collecting the visible text mutates
the tree (scripts stripped, hidden subtrees detached, newlines added after blocks),
so ``Document.root`` is not the page as parsed.
"""

from __future__ import annotations

import os
import re
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import lru_cache, partial
from itertools import islice

from lxml import etree

from hijackwatch.detect.css import hidden_selectors, hiding_reason
from hijackwatch.detect.lexicon import SpamHits, scan
from hijackwatch.detect.script import spammy_domain
from hijackwatch.detect.text import link_domain, normalise, registrable_domain, url_domain

# The compiled walk (hijackwatch/detect/_walk.pyx) reads libxml2's nodes directly; this
# module's pure-Python walk is the reference it must match, and the fallback when the
# extension is not built. HIJACKWATCH_PURE_PYTHON=1 forces the fallback (read once).
try:
    from hijackwatch.detect import _walk as _compiled_module
except ImportError:
    _compiled_module = None
_compiled = None if os.environ.get("HIJACKWATCH_PURE_PYTHON") == "1" else _compiled_module

MAX_SCRIPTS_CHARS = 1024 * 1024  # inline script text analysed per page
MAX_LINKS = 5000  # links collected per page
# Distinct <script src> values kept (the crawl fetches at most 20 per page; an analysis
# travels between processes and is cached, so a page of 100,000 tags must not bloat it).
MAX_SCRIPT_SRCS = 200
MAX_ID_GROUP = 1000  # elements kept per repeated id
MAX_MISPLACED = 10_000  # table cells outside tables, options outside lists, kept per page
MAX_HANDLER_CHARS = 20_000  # of an onload/onerror handler
MAX_HANDLERS = 50  # handlers read as scripts per page
_HANDLERS = etree.XPath("//*/@onload | //*/@onerror | //*/@onpageshow", smart_strings=False)
NOSCRIPT = "<noscript> (shown only without JavaScript)"

# collect_ids=False: libxml2 would file every id attribute in a hash table (and log
# each repeated id as an error) for XPath's id() and DTD validation, neither used here;
# the tree is the same either way.
# huge_tree: without it libxml2 stops at nesting depth 256 and drops the rest of the
# page, which browsers still show (255 empty <span>s in front hid any spam after
# them); with it the limit is 2048, and deeper pages are flattened (_flatten).
_PARSER_OPTIONS = {
    "huge_tree": True,
    "remove_blank_text": False,
    "remove_comments": True,
    "remove_pis": True,
    "no_network": True,
    "collect_ids": False,
}
_PARSER = etree.HTMLParser(**_PARSER_OPTIONS)
# lxml hands a non-ASCII str to libxml2 as Latin-1, UTF-16 or UCS-4, which libxml2
# converts to UTF-8 before parsing; UTF-8 bytes skip that (~20% of the parse). libxml2
# parses the same UTF-8 either way, and the encoding given (here UTF-8, for a str the
# str's own) keeps a page's <meta charset> from switching it: the trees are identical.
_UTF8_PARSER = etree.HTMLParser(encoding="utf-8", **_PARSER_OPTIONS)
_XML_DECL = re.compile(r"^\s*<\?xml[^>]{0,200}\?>")
# Browsers put anything after </body> or </html> into the body; libxml2 drops it. Kits
# append their payload there, so the end tags are removed before parsing.
_END_TAGS = re.compile(r"</(?:html|body)\s*>", re.I)
# Matches where _END_TAGS does (zero width); searching with it took ~0.6x the time on
# the bench pages: a one-character literal prefix with the rest as a lookahead.
_END_TAG_START = re.compile(r"<(?=/(?:html|body)\s*>)", re.I)
_NON_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
REPLACEMENT = "\ufffd"
# Numeric character references: libxml2 decodes them into the tree, including those
# to characters lxml refuses (&#1;, &#xE;, &#xFFFE;; NUL and surrogates become U+FFFD).
_NUMERIC_REF = re.compile(r"&#(?:[xX]([0-9a-fA-F]{1,8})|(\d{1,10}));?")


def _without_control_refs(text: str) -> str:
    """``text`` with references to XML-incompatible characters replaced as
    :func:`_xml_compatible` replaces the characters."""
    return _NUMERIC_REF.sub(_control_ref, text)


def _xml_compatible(text: str) -> str:
    """``text`` without the characters lxml refuses: a form feed (HTML whitespace)
    becomes a space, anything else U+FFFD, as a browser's tokenizer makes NUL in markup.
    In visible text browsers show none of them, and normalise() drops U+FFFD: a NUL or
    control character inside a spam word (``ga\x00cor``) hides nothing."""
    return _NON_XML.sub(REPLACEMENT, text.replace("\x0c", " "))


def _control_ref(m: re.Match[str]) -> str:
    hex_digits, digits = m.groups()
    code = int(hex_digits, 16) if hex_digits is not None else int(digits)
    if code > 0x10FFFF or _NON_XML.match(chr(code)) is None:
        return m.group()
    return " " if code == 0x0C else REPLACEMENT


_TRAILER = re.compile(r"(?:\s*</(?:body|html)\s*>)*\s*", re.I)


# link_domain is pure; a site's pages repeat their navigation links, and most of a
# page's anchors point to a few dozen addresses.
_link_domain = lru_cache(maxsize=4096)(link_domain)


def clear_cache() -> None:
    """Forget the link domains and stylesheet queries of earlier pages."""
    _link_domain.cache_clear()
    _selector_query.cache_clear()


def _has_non_xml(text: str) -> bool:
    """Whether ``text`` holds a character :data:`_NON_XML` matches."""
    if _compiled is not None:
        return _compiled.has_non_xml(text)
    return _NON_XML.search(text) is not None


def _first_end_tag(text: str) -> int:
    """Index of the first </body> or </html>, any letter case."""
    if _compiled is not None:
        return _compiled.first_end_tag(text)
    m = _END_TAG_START.search(text)
    return m.start() if m is not None else -1


# Tag filters below list the most frequent tags first: lxml tries them in order.
_SKIP = ("script", "link", "meta", "style", "title", "head", "template")
_HEADINGS = ("h1", "h2", "h3")
BLOCK = (
    "div", "li", "p", "ul", "td", "option", "br", "h3", "h2", "tr", "section", "h4",
    "article", "th", "h1", "pre", "form", "figcaption", "nav", "aside", "body", "header",
    "table", "footer", "dd", "blockquote", "h5", "hr", "ol", "dt", "h6", "dl", "main",
    "center", "address", "marquee",
)  # fmt: skip
_REFRESH = re.compile(r"^\s*(\d{0,6})(?:\.\d*)?\s*[;,]?\s*(?:url\s*=\s*)?['\"]?([^'\"]*)", re.I)


def refresh_value(content: str) -> tuple[int, str]:
    """(delay, target) of a refresh instruction: a ``<meta http-equiv=refresh>``'s
    content or an HTTP ``Refresh:`` header, which browsers read alike."""
    m = _REFRESH.match(content[:2000])  # every part optional: it always matches
    assert m is not None
    return (int(m.group(1)) if m.group(1) else 0, m.group(2).strip())


@dataclass(slots=True)
class Link:
    href: str
    text: str
    domain: str  # registrable domain, '' when relative/unknown
    external: bool  # leaves the page's own site
    hidden: bool
    element: etree._Element


@dataclass(slots=True)
class HiddenBlock:
    """A top-most invisible element and what it holds."""

    element: etree._Element
    reason: str
    text: str
    links: list[Link] = field(default_factory=list)


@dataclass(slots=True)
class Document:
    url: str
    raw: str  # decoded source (bounded)
    root: etree._Element | None
    site: str = ""  # registrable domain of url
    title: str = ""
    title_norm: str = ""
    meta_description: str = ""
    meta_keywords: str = ""
    refresh: tuple[int, str] | None = None
    refresh_source: str = "meta"  # where ``refresh`` came from: "meta" or "header" (HTTP)
    canonical: str = ""  # <link rel=canonical>, og:url or <base href>
    # hrefs of <link rel=canonical|amphtml|alternate> (search engines index the page
    # under, or alongside, these addresses) and <base>
    alternates: list[str] = field(default_factory=list)
    text_parts: list[str] = field(default_factory=list)
    blocks: list[tuple[etree._Element, str]] = field(default_factory=list)  # (el, own text)
    headings: list[str] = field(default_factory=list)
    links: list[Link] = field(default_factory=list)
    hidden_blocks: list[HiddenBlock] = field(default_factory=list)
    iframes: list[tuple[etree._Element, bool]] = field(default_factory=list)  # (el, hidden)
    scripts: list[str] = field(default_factory=list)
    script_srcs: list[str] = field(default_factory=list)  # distinct <script src>s as written
    ids: dict[str, list[etree._Element]] = field(default_factory=lambda: defaultdict(list))
    misplaced: list[etree._Element] = field(default_factory=list)  # td/option out of place
    _text: str | None = None
    _norm: str | None = None
    _hits: SpamHits | None = None

    @property
    def text(self) -> str:
        """Visible text, block elements separated by newlines."""
        if self._text is None:
            self._text = "".join(self.text_parts)
        return self._text

    @property
    def norm_text(self) -> str:
        if self._norm is None:
            self._norm = normalise(self.text)
        return self._norm

    @property
    def hits(self) -> SpamHits:
        """Lexicon hits in the visible text."""
        if self._hits is None:
            self._hits = scan(self.norm_text)
        return self._hits


@dataclass(slots=True)
class HeadFacts:
    """What the head walk found for the hidden-element search."""

    styles: list[str]  # text of every <style>, in source order
    marquees: list[etree._Element]


def parse(
    text: str, url: str = "", *, xml_safe: bool = False, utf8: bytes | None = None
) -> Document:
    """Parse once and collect what detectors need. ``xml_safe``: the caller already
    knows the text has no control characters or lone surrogates (saves a full scan).
    ``utf8``: ``text.encode("utf-8")``, when the caller has it (saves the encoding)."""
    given = text
    text = _XML_DECL.sub("", text, count=1) if text[:100].lstrip()[:5] == "<?xml" else text
    # Control characters and lone surrogates are not XML-compatible: lxml refuses them
    # in strings and in the separators the walk writes. Rare, so checked for cheaply.
    if not xml_safe and _has_non_xml(text):
        # (NULs too: deleting them would open comments no browser sees)
        text = _xml_compatible(text)
    end = _first_end_tag(text)
    if end >= 0 and not _TRAILER.fullmatch(text, end):
        text = _END_TAGS.sub("", text)
    root = _parsed(text, utf8 if text is given else None)
    if root is not None and _too_deep(root):
        text = _flatten(text, MAX_DEPTH)
        root = _parsed(text)
        if root is not None and _too_deep(root):  # nesting _flatten misjudged: flatten all
            text = _TAG.sub(_flat_tag, text)
            root = _parsed(text)
    doc = Document(url=url, raw=text, root=root, site=url_domain(url) if url else "")
    if root is not None:
        try:
            _walk(doc, root)
        except ValueError:
            # The walk wrote back a character lxml refuses: one the byte-level check
            # cannot see (U+FFFE), or a numeric reference to one (&#1;), which libxml2
            # decodes. Rare: cleaned and parsed again. Anything else is a bug: raised.
            cleaned = _without_control_refs(_xml_compatible(text))
            if cleaned == text:
                raise
            return parse(cleaned, url)
    return doc


def _parsed(text: str, utf8: bytes | None = None) -> etree._Element | None:
    """The parsed page, or None; ``utf8``: the text's UTF-8 encoding, if known."""
    if not text or text.isspace():
        return None
    source: str | bytes = text
    parser = _PARSER
    # ASCII: lxml passes the str's buffer to libxml2 as UTF-8 already. A str opening
    # with an XML declaration naming an encoding makes lxml raise ValueError, the bytes
    # do not: such a page keeps the str parse too.
    if not text.isascii() and not text.startswith("<?xml"):
        try:
            source, parser = text.encode("utf-8") if utf8 is None else utf8, _UTF8_PARSER
        except UnicodeEncodeError:  # a lone surrogate the caller called xml_safe
            source = text
    try:
        return etree.fromstring(source, parser)
    except (etree.ParserError, etree.XMLSyntaxError, ValueError):
        return None


def _too_deep(root: etree._Element) -> bool:
    """The parse of ``root`` stopped at libxml2's nesting limit (its fatal error is the
    last)."""
    error = root.getroottree().parser.error_log.last_error
    return error is not None and error.type == etree.ErrorTypes.ERR_RESOURCE_LIMIT


# Nesting kept when a page is too deep for libxml2. Browsers show what lies deeper
# (Chrome re-parents elements past depth 512), so the content must stay.
MAX_DEPTH = 1000
# A tag's attributes: quoted values (which may hold '<' or '>') up to 2000 characters,
# else no '<': a tag that never closes ends at the next one, so searches stay linear.
_ATTRIBUTES = r"""(?:[^<>"']++|"[^"]{0,2000}"|'[^']{0,2000}')*+>"""
_TOKEN = re.compile(r"<!--|<(/?)([a-zA-Z][^\s/<>]{0,40})" + _ATTRIBUTES)
_TAG = re.compile(r"</?([a-zA-Z][^\s/<>]{0,40})" + _ATTRIBUTES)
# Kept by the last-resort flattening: none of them nests (a new <a> closes the open
# one; the others are void or hold text only), so the page is at most a few levels deep.
_UNNESTED = frozenset(
    "a area base body br head hr html iframe img input link meta script style title".split()  # noqa: SIM905
)


def _flat_tag(m: re.Match[str]) -> str:
    return m.group() if m.group(1).lower() in _UNNESTED else " "


_COMMENT_END = re.compile(r"-->")
_VOID = frozenset(
    "area base br col embed hr img input link meta param source track wbr".split()  # noqa: SIM905
)
_RAW_TEXT = frozenset("script style textarea title xmp noembed noframes iframe".split())  # noqa: SIM905
# Elements whose start tag ends an open one of the same name (unclosed <li>, <p>...).
_SELF_ENDING = frozenset("p li option dt dd tr td th".split())  # noqa: SIM905


@lru_cache(maxsize=16)
def _raw_end(name: str) -> re.Pattern[str]:
    return re.compile(f"</{name}", re.I)


def _flatten(text: str, limit: int) -> str:
    """``text`` with elements nested deeper than ``limit`` made siblings of the deepest
    open one, as Chrome attaches them past its depth limit (the open element at the
    limit is closed first; its own end tag, which comes later, is then dropped).
    Only for pages libxml2 gave up on."""
    parts: list[str] = []
    stack: list[str] = []
    opened: Counter[str] = Counter()  # names on the stack (``in stack`` is O(depth))
    closed_early: Counter[str] = Counter()  # closed here: their end tags are to drop
    kept = pos = 0
    while (m := _TOKEN.search(text, pos)) is not None:
        pos = m.end()
        closing, name = m.groups()
        if name is None:  # a comment: its content is not markup
            end = _COMMENT_END.search(text, pos)
            pos = end.end() if end else len(text)
            continue
        name = name.lower()
        if closing:
            if opened[name]:
                while (top := stack.pop()) != name:
                    opened[top] -= 1
                opened[name] -= 1
            elif closed_early[name]:
                closed_early[name] -= 1
                parts.append(text[kept : m.start()])
                kept = pos
            continue
        if name in _RAW_TEXT:  # its content is text up to its end tag
            end = _raw_end(name).search(text, pos)
            pos = end.start() if end else len(text)
            continue
        if name in _VOID or m.group().endswith("/>"):
            continue
        if stack and name in _SELF_ENDING and stack[-1] == name:
            stack.pop()
            opened[name] -= 1
        if len(stack) >= limit:
            top = stack.pop()
            opened[top] -= 1
            closed_early[top] += 1
            parts.append(f"{text[kept : m.start()]}</{top}>")
            kept = m.start()
        stack.append(name)
        opened[name] += 1
    parts.append(text[kept:])
    return "".join(parts)


def _attr_hidden(el: etree._Element) -> str | None:
    """Why an element's own attributes hide it, or None."""
    style = el.get("style")
    if style:
        reason = hiding_reason(style)
        if reason:
            return reason
    if el.get("hidden") is not None:
        return "hidden attribute"
    if el.tag == "marquee":
        for attr in ("height", "width"):
            v = el.get(attr, "").strip().removesuffix("px")
            if v.isdigit() and int(v) <= 3:
                return f"marquee {attr}={v}"
        sa = el.get("scrollamount", "").strip()
        if sa.isdigit() and int(sa) >= 1000:
            return "marquee scrolling too fast to read"
    return None


# Attribute nodes are found faster than elements with an attribute predicate, and
# ``//*/@a`` faster than ``//@a`` (same nodes: only elements have attributes).
_HIDING_ATTRS = etree.XPath("//*/@style | //*/@hidden")
_ID_VALUES = etree.XPath("//*/@id", smart_strings=False)  # plain str: cheaper to count
_CLASS_VALUES = etree.XPath("//*/@class", smart_strings=False)
_COUNT_TABLE_CELLS = etree.XPath("count(//table//td | //table//th | //table//tr)")
_COUNT_LISTED_OPTIONS = etree.XPath("count(//select//option | //datalist//option)")
_MISPLACED = etree.XPath(
    "//td[not(ancestor::table)] | //th[not(ancestor::table)] | //tr[not(ancestor::table)]"
    " | //option[not(ancestor::select or ancestor::datalist)]"
)
MAX_HIDDEN_SELECTORS = 40
MAX_SELECTED = 20_000  # elements a stylesheet's hidden classes and ids select, per page
MAX_HIDING_ATTRS = 20_000  # style/hidden attributes looked at per page


def _attr_hidden_elements(
    root: etree._Element, marquees: list[etree._Element]
) -> dict[etree._Element, str]:
    """Elements hidden by their own attributes (the first MAX_HIDING_ATTRS
    style/hidden attributes, found in C), then ``marquees`` hidden by theirs, in
    that order."""
    found: dict[etree._Element, str] = {}
    seen: set[etree._Element] = set()
    for attr in _HIDING_ATTRS(root)[:MAX_HIDING_ATTRS]:
        el = attr.getparent()
        if el not in seen:
            seen.add(el)
            reason = _attr_hidden(el)
            if reason:
                found[el] = reason
    for el in marquees:
        if el not in seen:
            reason = _attr_hidden(el)
            if reason:
                found[el] = reason
    return found


def _hidden_elements(
    root: etree._Element, id_values: list[str], head: HeadFacts, found: dict[etree._Element, str]
) -> dict[etree._Element, str]:
    """Every element hidden by its own attributes (``found``, see
    :func:`_attr_hidden_elements`) or by a simple stylesheet rule.

    The selected elements are found in C (:func:`_selected`'s XPath, or the compiled
    module's walk, which reads the class values without making a str of each), so
    Python only looks at the few a rule selects. ``id_values``: every id of the page
    in source order, and ``head``: what :func:`_collect_head` found.
    """
    css = head.styles
    if not css:
        return found
    classes, ids = hidden_selectors("\n".join(css))
    # Sorted: set order varies between processes (str hash seeds), and only the
    # first MAX_HIDDEN_SELECTORS are queried.
    hidden_classes = tuple(sorted(classes)[:MAX_HIDDEN_SELECTORS])
    hidden_ids = tuple(sorted(ids)[: MAX_HIDDEN_SELECTORS - len(hidden_classes)])
    if not hidden_classes and not hidden_ids:
        return found
    if _compiled is not None:
        selected = _compiled.select(root, hidden_classes, hidden_ids, MAX_SELECTED)
    else:
        selected = _selected(root, id_values, hidden_classes, hidden_ids)
    for el in selected:
        if el in found:
            continue
        cls = set((el.get("class") or "").split()) & classes
        if cls:
            found[el] = f".{min(cls)} hidden by stylesheet"
        elif el.get("id") in ids:
            found[el] = f"#{el.get('id')} hidden by stylesheet"
    return found


def _selected(
    root: etree._Element, id_values: list[str], classes: tuple[str, ...], ids: tuple[str, ...]
) -> list[etree._Element]:
    """The first MAX_SELECTED elements, in source order, whose class attribute contains
    one of ``classes`` (a substring test; the caller checks class tokens) or whose id
    is one of ``ids``. ``id_values``: every id of the page."""
    # Most rules hide something this page does not use: selectors absent from all of
    # the page's class/id values cannot match, and are left out of the query.
    if classes:
        used = "\n".join(_CLASS_VALUES(root))
        classes = tuple(c for c in classes if c in used)
    if ids:
        present = set(id_values)
        ids = tuple(i for i in ids if i in present)
    if not classes and not ids:
        return []
    return _selector_query(classes, ids)(root)[:MAX_SELECTED]


@lru_cache(maxsize=256)
def _selector_query(
    classes: tuple[str, ...], ids: tuple[str, ...]
) -> Callable[[etree._Element], list[etree._Element]]:
    """Elements whose class attribute contains one of ``classes`` (a cheap substring
    test; the exact class-token check is the caller's) or whose id is one of ``ids``.

    Attribute steps, then their parents: faster in libxml2 than ``//*[...]``, same
    elements in the same (document) order. Names are passed as variables, so the
    compiled query depends only on how many there are (compiling costs 10-30 us).
    """
    names = {f"c{n}": c for n, c in enumerate(classes)} | {f"i{n}": i for n, i in enumerate(ids)}
    return partial(_selector_shape(len(classes), len(ids)), **names)


@lru_cache(maxsize=256)
def _selector_shape(classes: int, ids: int) -> etree.XPath:
    """The query of :func:`_selector_query` for that many classes and ids."""
    steps = []
    if classes:
        tests = " or ".join(f"contains(., $c{n})" for n in range(classes))
        steps.append(f"//*/@class[{tests}]")
    if ids:
        steps.append("//*/@id[" + " or ".join(f".=$i{n}" for n in range(ids)) + "]")
    return etree.XPath("(" + " | ".join(steps) + ")/..")


@lru_cache(maxsize=256)
def _elements_with_ids(count: int) -> etree.XPath:
    """Elements whose id is one of the variables ``$i0``..``$i{count-1}``, in source
    order. Ids are passed as variables: no quoting, and no page text in the cache."""
    return etree.XPath("//*/@id[" + " or ".join(f".=$i{n}" for n in range(count)) + "]/..")


def _collect_head(doc: Document, root: etree._Element, id_values: list[str]) -> HeadFacts:
    """Title, meta, canonical and scripts, each found by lxml's C-level tag filter;
    stylesheets and marquees are picked up on the way for :func:`_hidden_elements`.

    ``id_values``: every id of the page in source order.
    """
    budget = MAX_SCRIPTS_CHARS
    srcs: dict[str, None] = {}  # distinct, in page order
    title = None
    canonical = ""
    head = HeadFacts([], [])
    # One C-level walk for all head facts (scripts may sit anywhere in the page).
    for el in root.iter("script", "meta", "link", "title", "base", "style", "marquee"):
        tag = el.tag
        if tag == "script":
            # External scripts (src=) are fetched and analysed by the crawl, not here.
            src = el.get("src")
            if src is not None and len(srcs) < MAX_SCRIPT_SRCS:
                srcs.setdefault(src[:2000])
            if budget > 0 and not src:
                text = el.text  # read once: each read decodes the script again
                if text:
                    text = text[:budget]
                    doc.scripts.append(text)
                    budget -= len(text)
        elif tag == "meta":
            _meta(doc, el.get("name"), el.get("property"), el.get("content"), el.get("http-equiv"))
        elif tag == "style":
            if text := el.text:
                head.styles.append(text)
        elif tag == "title":
            title = el.text or "" if title is None else title
        elif tag == "marquee":
            head.marquees.append(el)
        else:
            rel = "base" if tag == "base" else el.get("rel")
            if rel:
                _alternate(doc, rel, el.get("href"))
            if not canonical and (tag == "base" or (rel or "").lower() == "canonical"):
                href = (el.get("href") or "").strip()
                if href.lower().startswith(("http://", "https://")):
                    canonical = href
    doc.script_srcs = list(srcs)
    doc.title = title or ""
    # <link rel=canonical>/<base> win over og:url, which _meta sets when nothing else did.
    doc.canonical = canonical or doc.canonical
    wanted = _repeated_ids(id_values)
    if wanted:
        # One query for all of them; keys still arrive in first-use order.
        query = _elements_with_ids(len(wanted))
        for el in query(root, **{f"i{n}": ident for n, ident in enumerate(wanted)}):
            group = doc.ids[el.get("id")]
            if len(group) < MAX_ID_GROUP:
                group.append(el)
    # Counting first (cheap in C) skips the ancestor-axis query on well-formed pages.
    cells = len(list(root.iter("td", "tr", "th")))
    options = len(list(root.iter("option")))
    if (cells and cells != _COUNT_TABLE_CELLS(root)) or (
        options and options != _COUNT_LISTED_OPTIONS(root)
    ):
        _add_misplaced(doc, root)
    return head


def _repeated_ids(id_values: list[str]) -> tuple[str, ...]:
    """The ids worth grouping: used three times or more (template debris), in
    first-use order, at most 200."""
    repeated = [i for i, n in Counter(id_values[:50_000]).items() if n >= 3]
    return tuple(i for i in repeated[:200] if "'" not in i)


def _add_misplaced(doc: Document, root: etree._Element) -> None:
    """Table cells outside tables and options outside lists (a page has some)."""
    doc.misplaced.extend(_MISPLACED(root)[:MAX_MISPLACED])


def _detach(el: etree._Element) -> None:
    """Remove an element but keep its tail text where it was (the tail is visible)."""
    parent = el.getparent()
    if parent is None:
        return
    tail = el.tail
    if tail:
        prev = el.getprevious()
        if prev is not None:
            prev.tail = (prev.tail or "") + tail
        else:
            parent.text = (parent.text or "") + tail
    parent.remove(el)


def _top_most(hidden_map: dict[etree._Element, str]) -> list[etree._Element]:
    """Hidden elements not inside another hidden element, in source order."""
    ordered = sorted(hidden_map, key=lambda e: e.sourceline or 0)
    if _compiled is not None:
        return _compiled.top_most(ordered)
    chosen: set[etree._Element] = set()
    out = []
    for el in ordered:
        if not chosen or not any(a in chosen for a in islice(el.iterancestors(), 64)):
            chosen.add(el)
            out.append(el)
    return out


def _walk(doc: Document, root: etree._Element) -> None:
    """Visible text, hidden blocks, links and iframes.

    Mostly lxml's C-level iteration: the (already collected) script/style/head
    subtrees are stripped, hidden subtrees are read and detached, block elements get
    newline separators, and what remains is the visible text. The compiled module,
    when built, does the two tree walks (head facts, visible facts) in one C loop each.
    """
    if _compiled is not None:
        id_values, head, found, noscripts = _compiled.scan(doc, root)
    else:
        id_values = _ID_VALUES(root)  # read once for the repeated-id count and the selectors
        head = _collect_head(doc, root, id_values)
        found = _attr_hidden_elements(root, head.marquees)
        # Handlers that run unasked (<body onload>, <img onerror>, <svg onload>) are
        # read like inline scripts.
        doc.scripts.extend(v[:MAX_HANDLER_CHARS] for v in _HANDLERS(root)[:MAX_HANDLERS])
        noscripts = root.iter("noscript")
    hidden_map = _hidden_elements(root, id_values, head, found)
    for el in noscripts:
        # Kits put links for crawlers there: only a visitor without JavaScript sees them.
        hidden_map.setdefault(el, NOSCRIPT)
    if _compiled is not None:
        _compiled.strip(root)
        # The compiled link domains of the page serve its hidden and visible links alike.
        domains = _compiled.LinkDomains(doc.url)
        _compiled.hidden_blocks(doc, root, _top_most(hidden_map), hidden_map, domains)
        text = _compiled.visible(doc, root, domains)
    else:
        etree.strip_elements(root, *_SKIP, with_tail=False)
        _hidden_blocks(doc, root, hidden_map)
        text = _visible(doc, root)
    if root not in hidden_map:
        doc.text_parts.append(_text_of(root) if text is None else text)
    if not doc.site and doc.canonical:
        # Saved pages and scans without a URL: the page's own canonical/og:url/base
        # tells which links stay on its site (unless it names a spam site: then the
        # casino's links would pass for the page's own).
        site = url_domain(doc.canonical)
        doc.site = "" if spammy_domain(site) else site
        if doc.site:
            for link in doc.links:
                link.external = bool(link.domain) and link.domain != doc.site
    doc.title_norm = normalise(doc.title)


def _hidden_blocks(
    doc: Document, root: etree._Element, hidden_map: dict[etree._Element, str]
) -> None:
    """Read the top-most hidden elements (text, links, iframes) into hidden blocks and
    detach them, so the visible walk does not see them. (The compiled
    ``hidden_blocks`` reads each block in one walk.)"""
    domain_of = partial(_link_domain, doc.url)
    for el in _top_most(hidden_map):
        if el.getparent() is None and el is not root:
            continue  # inside a stripped subtree
        block = HiddenBlock(el, hidden_map[el], _text_of(el))
        for a in el.iter("a"):
            href = a.get("href")
            if href:
                link = _hidden_link(doc, a, href, domain_of)
                if link is not None:
                    block.links.append(link)
        for iframe in el.iter("iframe"):
            doc.iframes.append((iframe, True))
        doc.hidden_blocks.append(block)
        if el is not root:
            _detach(el)


def _visible(doc: Document, root: etree._Element) -> None:
    """Visible links, iframes and headings; block elements get newline separators.
    (The compiled ``visible`` returns the root's text too, read on the way.)"""
    # Visible links built inline: this loop runs once per anchor of the page.
    links, url, site = doc.links, doc.url, doc.site
    for a in root.iter("a"):
        href = a.get("href")
        if href and len(links) < MAX_LINKS:
            domain = _link_domain(url, href)
            links.append(Link(href, "", domain, bool(domain) and domain != site, False, a))
    for iframe in root.iter("iframe"):
        doc.iframes.append((iframe, False))
    # Read before the block walk below rewrites their text; a separate C-level walk
    # costs less than reading the tag of every block.
    doc.headings.extend(text for el in root.iter(*_HEADINGS) if (text := el.text))
    blocks = doc.blocks
    # Each .text/.tail read builds a new str from the tree: read each once.
    for el in root.iter(*BLOCK):
        text = el.text
        if text:
            blocks.append((el, text))
            el.text = "\n" + text
        else:
            el.text = "\n"
        tail = el.tail
        el.tail = "\n" + tail if tail else "\n"


def _text_of(el: etree._Element) -> str:
    """All text inside ``el`` (not its tail): ``"".join(el.itertext())``, serialised
    in C rather than joined from a Python generator (twice as fast)."""
    return etree.tostring(el, method="text", encoding="unicode", with_tail=False)


def _hidden_link(
    doc: Document, el: etree._Element, href: str, domain_of: Callable[[str], str]
) -> Link | None:
    """A link inside a hidden block; it counts toward the page's links as well.
    ``domain_of``: ``link_domain`` for the page's URL."""
    if len(doc.links) >= MAX_LINKS:
        return None
    domain = domain_of(href)
    external = bool(domain) and domain != doc.site
    link = Link(href, "", domain, external, True, el)
    doc.links.append(link)
    return link


_OWN_ADDRESS_RELS = frozenset(("canonical", "amphtml", "base"))
MAX_ALTERNATES = 50  # rel=alternate links kept (a page lists one per language)
MAX_OWN_ADDRESSES = 200  # canonical/amphtml/base kept, whatever the alternates


def _alternate(doc: Document, rel: str, href: str | None) -> None:
    """Record the href of a <link> whose rel says the page lives at (or also at) it,
    or of <base> (``rel`` "base"), which every relative link of the page follows."""
    if not href:
        return
    rels = rel.lower().split()
    own = not _OWN_ADDRESS_RELS.isdisjoint(rels)
    limit = MAX_OWN_ADDRESSES if own else MAX_ALTERNATES if "alternate" in rels else 0
    if len(doc.alternates) < limit:
        doc.alternates.append(href.strip()[:2000])


def _meta(
    doc: Document,
    name: str | None,
    prop: str | None,
    content: str | None,
    http_equiv: str | None,
) -> None:
    """Record one <meta>, given its name, property, content and http-equiv attributes."""
    name = (name or prop or "").lower()
    content = content or ""
    if name in ("description", "og:description") and not doc.meta_description:
        doc.meta_description = content[:2000]
    elif name == "keywords" and not doc.meta_keywords:
        doc.meta_keywords = content[:2000]
    elif name == "og:url" and not doc.canonical and content.lower().startswith("http"):
        doc.canonical = content.strip()
    elif (http_equiv or "").lower() == "refresh" and doc.refresh is None:
        doc.refresh = refresh_value(content)


def link_text(link: Link) -> str:
    """Anchor text (and title attribute) of a link, computed lazily."""
    if not link.text:
        el = link.element
        n = len(el)
        # Childless anchors (most of them) hold just their own text.
        text = (el.text or "") if n == 0 or n >= 50 else "".join(el.itertext())
        link.text = (text or link.element.get("title") or "").strip()[:300]
    return link.text


if _compiled_module is not None:
    _compiled_module.setup(
        Link=Link,
        HeadFacts=HeadFacts,
        HiddenBlock=HiddenBlock,
        skip_tags=_SKIP,
        text_of=_text_of,
        hiding_reason=hiding_reason,
        attr_hidden=_attr_hidden,
        meta=_meta,
        alternate=_alternate,
        repeated_ids=_repeated_ids,
        link_domain=_link_domain,
        registrable_domain=registrable_domain,
        max_links=MAX_LINKS,
        max_scripts_chars=MAX_SCRIPTS_CHARS,
        max_script_srcs=MAX_SCRIPT_SRCS,
        max_id_group=MAX_ID_GROUP,
        max_hiding_attrs=MAX_HIDING_ATTRS,
        max_handlers=MAX_HANDLERS,
        max_handler_chars=MAX_HANDLER_CHARS,
        max_misplaced=MAX_MISPLACED,
    )
