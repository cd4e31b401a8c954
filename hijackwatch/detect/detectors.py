"""The detectors: each reads the shared Document (through a Context) and returns findings.

What makes a page hijacked is spam content placed where the page's own content
should be (title, hidden blocks, mid-sentence phrases, link blocks) or a page that
sends visitors elsewhere. Structure alone (hidden menus, duplicate ids, foreign
links) is normal on the web, so most rules require spam content as well.
"""

from __future__ import annotations

import math
import re
import string
from bisect import bisect_right
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from functools import cached_property, partial

from lxml import etree

from hijackwatch.detect.css import hiding_reason
from hijackwatch.detect.document import (
    REPLACEMENT,
    Document,
    HiddenBlock,
    Link,
    link_text,
    parse,
)
from hijackwatch.detect.findings import Finding
from hijackwatch.detect.lexicon import (
    SpamHits,
    empty_hits,
    scan,
    scan_each,
    scan_many,
    spammy_each,
)
from hijackwatch.detect.script import (
    ScriptReport,
    external_target,
    navigation_findings,
    scan_scripts,
    spammy_domain,
    spammy_url,
    title_findings,
)
from hijackwatch.detect.text import (
    clip,
    collapse_ws,
    has_cjk_thai,
    normalise,
    normalise_many,
    url_domain,
)

_SEPARATORS = re.compile(r"[_|,，、/\\\-–—·•:：;；【】\[\]()（）<>《》\s]+")
_TITLE_SEGMENTS = re.compile(r"[|_\-–—:：,，【】\[\]《》]+")
_BRACKET_PREFIX = re.compile(r"^\s*[【\[]([^】\]]{1,120})[】\]]")
_NUMERIC_TITLE = re.compile(r"<title[^>]{0,200}>([^<]{0,4000})</title", re.I)
_RANDOM_ID = re.compile(r"^(?=[a-z0-9]{3,10}$)(?=.*\d)(?=.*[a-z])")
_WORDLIKE = re.compile(r"[\w\u3040-\u30ff\u3400-\u9fff]")
_CHAIN_SEPARATORS = re.compile(r"[_|,，、/;；]+")
_NON_SPACE = re.compile(r"[\s_|,，、/;；:：.。\-–—·•()（）【】\[\]“”\"'「」]+")
_WORD_CHAR = re.compile(r"[^\W_]")
# The brand-token shapes; brand_tokens() finds its matches faster (tested against it).
_BRAND_TOKEN = re.compile(
    r"\b(?:[A-Z]{2,}[0-9]+|[A-Za-z]+[0-9]{2,}|[A-Z][a-z]+[A-Z][A-Za-z]*[0-9]*|[A-Z]{5,})\b"
)
_BRAND_SEED = re.compile(r"[A-Za-z][A-Z0-9]")  # in every _BRAND_TOKEN match
_GAMBLING_WORDS = frozenset(
    {
        "bet", "casino", "slot", "slots", "spin", "poker", "jackpot", "judi", "togel", "gacor",
        "lotto", "bingo", "baccarat", "maxwin", "joker", "zeus", "ufabet", "betflik", "sbobet",
        "vegas", "pgslot", "sbo",
    }
)  # fmt: skip
# Cheap substring pre-check before the token regex runs over the text.
_BRAND_HINTS = ("bet", "casino", "slot", "spin", "poker", "jackpot", "judi", "togel", "gacor",
                "lotto", "bingo", "baccarat", "maxwin", "joker", "zeus", "vegas", "ufa", "sbo",
                "lucky", "royal")  # fmt: skip
# Words casino brands are built from; two in one CamelCase name is telling.
_CASINO_FLAVOUR = frozenset(
    {"royal", "ace", "lucky", "jet", "king", "club", "win", "fortune", "golden", "gold",
     "jack", "spin", "vip", "mega", "wild", "crown", "dragon", "tiger"}
)  # fmt: skip
_GAMBLING_NUMBERS = ("777", "888", "88", "168", "123", "138", "99", "365", "69", "189")
_COMPONENTS = re.compile(r"[A-Z]?[a-z]+|[A-Z]+(?![a-z])|\d+")
_TRACKERS = frozenset(
    {
        "googletagmanager.com", "doubleclick.net", "facebook.com", "google.com",
        "youtube.com", "youtube-nocookie.com", "vimeo.com", "twitter.com", "baidu.com",
        "qq.com", "bing.com", "linkedin.com", "hotjar.com", "cnzz.com", "51.la",
        "bilibili.com", "youku.com", "dailymotion.com", "soundcloud.com", "spotify.com",
        "instagram.com", "tiktok.com", "bbc.com", "bbc.co.uk", "googleapis.com",
    }
)  # fmt: skip
_TOPICS = {"g": "gambling", "p": "porn", "f": "fake goods", "m": "pharma", "e": "fake documents"}


def _longest_first(phrase: str) -> tuple[int, str]:
    return -len(phrase), phrase


def _hits(text: str) -> SpamHits:
    return scan(normalise(text))


_EVIDENCE_CHARS = 600


def _finding(kind: str, severity: str, evidence: str) -> Finding:
    """A finding with its evidence clipped; evidence can hold a whole block's text.

    clip() folds the whitespace of all the text, megabytes for a big hidden block.
    The folded start of a text is the start of the folded text, so once a prefix
    folds to more than the limit, clipping the prefix gives what clipping all gives
    (for a text twice the prefix or longer: the prefix is folded twice).
    """
    if len(evidence) > 4 * _EVIDENCE_CHARS:
        head = collapse_ws(evidence[: 2 * _EVIDENCE_CHARS])
        if len(head) > _EVIDENCE_CHARS:
            return Finding(kind, severity, clip(head, _EVIDENCE_CHARS))
    return Finding(kind, severity, clip(evidence, _EVIDENCE_CHARS))


def _occurrences(text: str, needle: str, limit: int) -> Iterator[int]:
    """Start offsets of non-overlapping ``needle`` in ``text``, at most ``limit``
    (a hostile page can repeat a term endlessly)."""
    start = 0
    for _ in range(limit):
        i = text.find(needle, start)
        if i < 0:
            return
        yield i
        start = i + len(needle)


# ---------------------------------------------------------------- page-level context


@dataclass(slots=True)
class Block:
    """A visible block element's own text, folded, with its lexicon hits (made only
    for blocks holding a term: the rules that read hits skip the others)."""

    element: etree._Element
    text: str
    norm: str
    hits: SpamHits
    weight: int  # hits.weight, read by several rules (a sum over the terms each time)


class Context:
    """Facts several detectors share, computed once per page."""

    def __init__(self, doc: Document) -> None:
        self.doc = doc
        self.meta_norm = normalise(f"{doc.meta_keywords}\n{doc.meta_description}")
        self.keywords_norm = normalise(doc.meta_keywords)
        self.body_hits = doc.hits
        # Per-block folding is the costly part; pages without a single spam term skip it.
        chosen: list[tuple[etree._Element, str]] = []
        texts: list[str] = []
        norms: list[str] = []
        if self.body_hits.weight:
            chosen = [
                (el, text)
                for el, text in doc.blocks[:5000]
                if len(text) >= 6 and len(text.strip()) >= 6  # no copy of short texts
            ]
            texts = [text for _el, text in chosen]
            norms = normalise_many(texts)
        # Every chosen block's text and folded text, for the rules that look through
        # them all (most hold no term: no Block is made for those).
        self.block_texts = texts
        self.block_norms = norms
        # The folded title's segments, stripped, without empty ones (two rules read them,
        # and _candidates).
        self.title_segments = [
            seg for seg in map(str.strip, _TITLE_SEGMENTS.split(doc.title_norm)) if seg
        ]
        # Title, meta, every candidate phrase and every block scanned in one lexicon pass.
        candidates = self._candidates()
        head = [doc.title_norm, self.meta_norm, *(text for text, _p in candidates)]
        found = scan_each(head + norms)
        title_hits, meta_hits = found[0], found[1]
        self.title_hits = empty_hits(len(head[0])) if title_hits is None else title_hits
        self.meta_hits = empty_hits(len(head[1])) if meta_hits is None else meta_hits
        self.injected_phrases = self._phrases(candidates, found[2 : len(head)])
        # The blocks holding a term, in page order.
        self.term_blocks: list[Block] = [
            Block(el, text, norm, h, h.weight)
            for (el, text), norm, h in zip(chosen, norms, found[len(head) :], strict=True)
            if h is not None
        ]
        self.chains = _keyword_chains(self.term_blocks)
        self.reporting = self._reporting()
        # Only scripts that can yield a finding; the others' reports would be empty.
        self.scripts: list[ScriptReport] = scan_scripts(doc.scripts[:50])

    def _reporting(self) -> bool:
        """The page reports on spam (police, courts, regulators, business news).

        Such pages name the same terms as spam does, but in the same paragraphs as
        counter-context words (arrested, illegal, revenue...). Injected spam blocks
        never carry those, so only paragraphs that mention spam are looked at.
        """
        spam_blocks = 0
        explained = 0
        for block in self.term_blocks:
            if block.weight >= 2:
                spam_blocks += 1
                explained += block.hits.counter > 0
        if self.title_reports:
            spam_blocks += 1
            explained += 1
        return explained >= 1 and explained * 2 >= spam_blocks

    @cached_property
    def stripped(self) -> str:
        """The visible text without injected phrases and keyword chains."""
        stripped = self.doc.norm_text
        for phrase in self.injected_phrases:
            stripped = stripped.replace(phrase, " ")
        for chain in self.chains:
            stripped = stripped.replace(chain.norm, " ")
        return stripped

    @cached_property
    def stripped_hits(self) -> SpamHits:
        """Hits of the visible text without injected phrases and keyword chains; only
        phrase_free reads them, and not on every page (a full-text scan saved)."""
        # Phrases or chains that never occur leave the text as it was: same hits.
        if (self.injected_phrases or self.chains) and self.stripped != self.doc.norm_text:
            return scan(self.stripped)
        return self.body_hits

    @cached_property
    def title_reports(self) -> bool:
        """A title segment names spam together with counter-context ("police raid illegal
        casino"); an injected segment beside an honest one does not count."""
        if not (self.title_hits.distinct and self.title_hits.counter):
            return False
        for segment in _TITLE_SEGMENTS.split(self.doc.title_norm):
            hits = scan(segment)
            if hits.distinct and hits.counter:
                return True
        return False

    def title_related(self) -> bool:
        """The title's spam terms are also what the page's own body talks about."""
        terms = self.title_hits.spam_terms
        if not terms:
            return False
        body = self.stripped
        # Multi-word terms count when their first word shows up ("viagra online" -> viagra).
        return sum(1 for t in terms if t.split()[0] in body) * 2 >= len(terms)

    def _candidates(self) -> list[tuple[str, str]]:
        """(text to scan, phrase) for each piece of the title and meta keywords that
        becomes an injected phrase if it holds a spam term (see _phrases)."""
        candidates = []
        keywords = self.keywords_norm
        for source, segments in (
            (self.doc.title_norm, self.title_segments),
            (keywords, [segment.strip() for segment in _TITLE_SEGMENTS.split(keywords)]),
        ):
            bracket = _BRACKET_PREFIX.match(source)
            if bracket:
                candidates.append((bracket.group(1), bracket.group(1).strip()))
            candidates.extend((segment, segment) for segment in segments if len(segment) >= 3)
        return candidates

    @staticmethod
    def _phrases(candidates: list[tuple[str, str]], hits: list[SpamHits | None]) -> list[str]:
        """Spam-bearing pieces of the title and meta keywords, longest first.

        These are what kits paste into the body; removing them shows what the page
        itself is about. ``hits``: None for a piece without a term (no hits made).
        """
        phrases: set[str] = set()
        for (_text, phrase), found in zip(candidates, hits, strict=True):
            if found is not None and found.distinct:  # most pieces hold no term: no sum
                phrases.add(phrase)
        return sorted(phrases, key=_longest_first)[:20]  # ties by text: no hash-seed order

    @cached_property
    def phrase_free(self) -> tuple[SpamHits, int]:
        """Hits (and length) of the visible text with injected title phrases removed."""
        if not self.chains:  # then the stripped text is exactly this text
            return self.stripped_hits, len(self.stripped)
        text = _without(self.doc.norm_text, self.injected_phrases)
        if text == self.doc.norm_text:
            return self.body_hits, len(text)
        return scan(text), len(text)

    @cached_property
    def page_is_spam(self) -> bool:
        """The page itself is about spam: spam headings or spam spread over its prose.

        Injected title phrases are discounted; one spam paragraph or keyword footer on
        an otherwise clean page is injected text, not a spam page.
        """
        if self.reporting:
            return False
        hits, length = self.phrase_free
        if not (hits.strong >= 2 and hits.weight >= 10 and hits.distinct >= 4):
            return False
        density = hits.occurrences * 1000 / max(length, 1)
        if density < 0.8:
            return False
        phrases = self.injected_phrases
        heading = self._spam_heading()
        prose = sum(
            1
            for block in self.term_blocks
            if block.weight >= 3 and not any(p in block.norm for p in phrases)
        )
        return heading or prose >= 3 or (prose >= 2 and density >= 2.0)

    def _spam_heading(self) -> bool:
        """A heading (h1-h3) is about spam.

        A heading whose only spam is the injected title/brand phrase
        (``<h1>【pg电子·娱乐官方网站】别让外卖平台成噪音污染帮凶</h1>``) is discounted like
        prose is, unless spam beyond that phrase fills two blocks or more: parasite
        pages repeat their spam title as the h1, and their paragraphs carry spam too.
        """
        headings = normalise_many(self.doc.headings[:20])
        if not headings:
            return False
        rests = [_without(h, self.injected_phrases) for h in headings]
        hits = scan_many(headings + rests)
        if any(rest.weight >= 2 for rest in hits[len(headings) :]):
            return True
        return any(h.weight >= 2 for h in hits[: len(headings)]) and self._spam_prose() >= 2

    def _spam_prose(self) -> int:
        """Visible blocks with spam left once the injected phrases are removed.

        An injected page has one such block at most (its keyword footer); a parasite
        page's paragraphs and listings carry spam of their own.
        """
        texts = [_without(norm, self.injected_phrases) for norm in self.block_norms]
        return sum(1 for hits in scan_each(texts) if hits is not None and hits.weight >= 2)


def _without(text: str, phrases: list[str]) -> str:
    """``text`` with every occurrence of ``phrases`` blanked out."""
    for phrase in phrases:
        text = text.replace(phrase, " ")
    return text


def _keyword_chains(blocks: list[Block]) -> list[Block]:
    """Blocks made of spam keywords joined by separators (``精品久久_一级…_国产…``).

    Most of the block's characters must be spam terms: a sentence reporting on
    gambling names the same terms but is mostly other words.
    """
    chains = []
    for block in blocks:
        if block.weight < 6:
            continue
        hits = block.hits
        if hits.distinct < 3 or hits.counter or len(block.text) > 2000:
            continue
        segments = [s for s in _CHAIN_SEPARATORS.split(block.norm) if s.strip()]
        if len(segments) < 3:
            segments = [s for s in _SEPARATORS.split(block.norm) if s]
        if len(segments) < 3:
            continue
        letters = len(_NON_SPACE.sub("", block.norm)) or 1
        if hits.covered < 0.45 * letters:
            continue
        spam_segments = sum(1 for s in segments if scan(s).distinct)
        if spam_segments >= max(2, len(segments) // 2):
            chains.append(block)
    return chains


# ---------------------------------------------------------------- title and meta


def detect_title(ctx: Context) -> list[Finding]:
    doc = ctx.doc
    findings: list[Finding] = []
    th = ctx.title_hits
    title_terms = partial(th.describe, original=doc.title, folded=doc.title_norm)
    explained = ctx.page_is_spam or (ctx.reporting and (ctx.title_related() or ctx.title_reports))
    if th.distinct and not explained:
        bracket = _BRACKET_PREFIX.match(doc.title_norm)
        bracket_hits = scan(bracket.group(1)) if bracket else None
        if th.spammy() or (bracket_hits is not None and bracket_hits.weight >= 2):
            where = "prefixed to" if bracket_hits is not None and bracket_hits.distinct else "in"
            findings.append(
                _finding(
                    "title_injection",
                    "high",
                    f"spam keywords ({title_terms()}) {where} the title, "
                    "unrelated to the "
                    f"page body: {collapse_ws(doc.title)}",
                )
            )
        elif (
            th.weight >= 3
            and len(_TITLE_SEGMENTS.split(doc.title_norm)) >= 2
            and not ctx.title_related()
        ):
            findings.append(
                _finding(
                    "title_injection",
                    "medium",
                    f"title carries keywords ({title_terms()}) the page "
                    "body does not: "
                    f"{collapse_ws(doc.title)}",
                )
            )
    if th.distinct:
        m = _NUMERIC_TITLE.search(doc.raw, 0, 300_000)  # as in raw[:300_000], uncopied
        if m and m.group(1).count("&#") >= 6 and not explained:
            findings.append(
                _finding(
                    "title_injection",
                    "medium",
                    f"title written as numeric character references to hide its keywords "
                    f"({title_terms()}): {collapse_ws(doc.title)}",
                )
            )
    else:
        findings.extend(_unlisted_brand(ctx))
    mh = ctx.meta_hits
    if mh.spammy() and not explained and not (ctx.reporting and mh.counter):
        content = doc.meta_keywords if scan(ctx.keywords_norm).distinct else ""
        content = content or doc.meta_description
        meta = f"{doc.meta_keywords}\n{doc.meta_description}"  # what meta_hits were found in
        terms = mh.describe(original=meta, folded=ctx.meta_norm)
        findings.append(
            _finding(
                "meta_injection",
                "medium" if mh.strong == 0 and mh.weight < 6 else "high",
                f"meta keywords/description carry spam ({terms}): {content}",
            )
        )
    for report in ctx.scripts:
        findings.extend(title_findings(report, page_title_spam=th.spammy()))
    return findings


def _unlisted_brand(ctx: Context) -> list[Finding]:
    """A title segment found nowhere on the page, naming a gambling-looking brand.

    Catches brands the lexicon does not list (``BetNova - Kindergarten Registration``):
    a site's own name shows up in its logo, footer or headings; an injected one does not.
    """
    doc = ctx.doc
    segments = ctx.title_segments
    if len(segments) < 2 or not (_has_brand(doc.title) or _has_brand(doc.title_norm)):
        return []  # no segment can name a brand: the searches of the page text are saved
    originals = [seg.strip() for seg in _TITLE_SEGMENTS.split(doc.title) if seg.strip()]
    for segment in segments:
        if segment in doc.norm_text:
            continue
        # Brand shape is judged on the original spelling (BetNova, MAXWIN88, Slot777).
        raw = next((o for o in originals if normalise(o) == segment), segment)
        if any(brand_like(t) for t in brand_tokens(raw)):
            return [
                _finding(
                    "title_injection",
                    "high",
                    f"title carries a gambling-looking name found nowhere on the page "
                    f"({segment!r}): {collapse_ws(doc.title)}",
                )
            ]
    return []


def _has_brand(title: str) -> bool:
    """Whether a segment of ``title`` (split by _TITLE_SEGMENTS) may hold a brand-like
    token: every token of a segment is a token of the whole title once ``_`` (the one
    word character among the separators) is a space, as tokens hold no separator and
    a separator is a non-word character at a segment's edge like the string's edge.
    Each _BRAND_TOKEN shape holds a letter before an upper-case letter or a digit: most
    titles (and folded ones, lower-case, without digits) are ruled out by that alone."""
    if _BRAND_SEED.search(title) is None:
        return False
    return any(brand_like(t) for t in brand_tokens(title.replace("_", " ")))


# ---------------------------------------------------------------- hidden content


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


def _block_verdict(block: HiddenBlock) -> Finding | None:
    anchors = " ".join([link_text(link) for link in block.links[:200]])
    hits = _hits(f"{block.text}\n{anchors}")
    spammy = hits.spammy()
    external = [link for link in block.links if link.external]
    if not (spammy or external):  # most hidden blocks (menus): no finding
        return None
    domains = sorted({link.domain for link in external})
    where = f"<{block.element.tag}> hidden by {block.reason}"
    if external and (spammy or any(map(spammy_domain, domains))):
        sample = "; ".join(
            f"{collapse_ws(link_text(link))[:40]} -> {link.href[:80]}" for link in external[:5]
        )
        return _finding(
            "hidden_links",
            "high",
            f"{where} holds {_count(len(external), 'link')} to "
            f"{_count(len(domains), 'other site')} "
            f"({', '.join(domains[:8])}) with spam ({hits.describe() or 'spam domains'}): {sample}",
        )
    if spammy and len(block.text.strip()) >= 4:
        severity = "high" if hits.strong or hits.weight >= 6 else "medium"
        kind = "hidden_links" if block.links else "hidden_content"
        spam = hits.describe(original=block.text)
        return _finding(kind, severity, f"{where} holds spam ({spam}): {block.text}")
    if len(domains) >= 10 and hits.distinct:
        return _finding(
            "hidden_links",
            "medium",
            f"{where} holds links to {len(domains)} other sites ({', '.join(domains[:8])})",
        )
    return None


def detect_hidden(ctx: Context) -> list[Finding]:
    findings = []
    for block in ctx.doc.hidden_blocks[:500]:
        if block.text.strip() or block.links:
            finding = _block_verdict(block)
            if finding:
                findings.append(finding)
    for iframe, hidden in ctx.doc.iframes[:100]:
        # Visibility first: it is cheaper than the address's domain (a suffix-list
        # lookup on a site's first page), and most frames are visible.
        unseen = hidden or _tiny(iframe) or bool(hiding_reason(iframe.get("style") or ""))
        srcdoc = iframe.get("srcdoc")
        if srcdoc:  # HTML the frame shows itself (its src is not loaded then)
            findings.extend(
                written_html_findings(srcdoc, ctx.doc.site, unseen, "an <iframe srcdoc> shows")
            )
        if not unseen:
            continue
        src = iframe.get("src") or ""
        domain = url_domain(src) if src.lower().startswith(("http", "//")) else ""
        if not domain or domain == ctx.doc.site or domain in _TRACKERS:
            continue
        # Ad, sync and tracking frames are invisible too (every news page has a few),
        # so only frames of spam-looking sites count.
        if spammy_domain(domain) or _hits(src).spammy():
            findings.append(_finding("hidden_content", "high", f"invisible iframe loads {src}"))
    return findings[:20]


def _tiny(el: etree._Element) -> bool:
    for attr in ("width", "height"):
        v = (el.get(attr) or "").strip().removesuffix("px")
        if v.isdigit() and int(v) <= 2:
            return True
    return False


# ---------------------------------------------------------------- template debris


def detect_debris(ctx: Context) -> list[Finding]:
    doc = ctx.doc
    best: tuple[int, str, list[etree._Element], set[str]] | None = None
    for ident, elements in doc.ids.items():
        if len(elements) < 3:
            continue
        # Checked cheapest first; emptiness (a look at every element) comes last.
        # Three tags or more are required (list items and table cells repeat ids),
        tag_set = {el.tag for el in elements}
        if len(tag_set) < 3:
            continue
        random = _RANDOM_ID.match(ident.lower()) is not None
        if len(elements) == 3 and not random:
            continue  # three is only enough when all are empty and the id looks random
        # and a weight above the best so far.
        weight = len(elements) + (3 if random else 0)
        if best is not None and weight <= best[0]:
            continue
        if _mostly_empty(elements):
            best = (weight, ident, elements, tag_set)
    findings = []
    misplaced = [el for el in doc.misplaced if _emptyish(el)]
    if best is not None:
        weight, ident, elements, tag_set = best
        tags = sorted(tag_set)
        severity = "high" if weight >= 6 or misplaced else "medium"
        findings.append(
            _finding(
                "template_debris",
                severity,
                f'{len(elements)} mostly empty elements share id="{ident}" '
                f"({', '.join('<' + t + '>' for t in tags[:10])})"
                + (
                    f"; {len(misplaced)} <td>/<option> outside their table/select"
                    if misplaced
                    else ""
                ),
            )
        )
    elif len(misplaced) >= 4:
        ids = {el.get("id") for el in misplaced if el.get("id")}
        if ids:
            findings.append(
                _finding(
                    "template_debris",
                    "medium" if len(misplaced) >= 8 else "low",
                    f"{len(misplaced)} empty <td>/<option> elements outside any table/select "
                    f"(ids {', '.join(sorted(ids)[:5])})",
                )
            )
    return findings


def _mostly_empty(elements: list[etree._Element]) -> bool:
    """At least 60% of ``elements`` are _emptyish (all of them when there are three),
    counting only until that is reached."""
    count = len(elements)
    need = 3 if count == 3 else math.ceil(0.6 * count)
    empty = 0
    for el in elements:
        if _emptyish(el):
            empty += 1
            if empty >= need:
                return True
    return empty >= need


def _emptyish(el: etree._Element) -> bool:
    """No text of its own, and at most two children without text; a text of only
    whitespace counts as none (str.isspace(), what str.strip() strips), and so does
    U+FFFD, what parsing made of NULs, which browsers drop from text."""
    text = el.text
    if text and not _blank(text):
        return False
    if len(el) > 2:
        return False
    for child in el:
        text = child.text
        if text and not _blank(text):
            return False
    return True


def _blank(text: str) -> bool:
    return text.isspace() or (REPLACEMENT in text and not text.replace(REPLACEMENT, "").strip())


# ---------------------------------------------------------------- injected text


def _original_around(ctx: Context, needle: str, index: int) -> str:
    """Evidence as the page shows it: the block holding ``needle`` (found in folded
    text), cut around it; falls back to the folded text near ``index``."""
    fallback = ""
    for text, norm in zip(ctx.block_texts, ctx.block_norms, strict=True):
        at = norm.find(needle)
        if at < 0:
            continue
        if len(text) != len(norm):
            text = norm
        snippet = text[max(0, at - 60) : at + len(needle) + 60]
        if _mid_sentence(norm, at, at + len(needle)):
            return snippet  # prefer an occurrence glued into a sentence
        fallback = fallback or snippet
    if fallback:
        return fallback
    norm = ctx.doc.norm_text
    return norm[max(0, index - 40) : index + len(needle) + 40]


def detect_text(ctx: Context) -> list[Finding]:
    doc = ctx.doc
    findings = []
    norm = doc.norm_text
    # 1. title/keyword phrases pasted into the middle of sentences (word salad)
    mid = 0
    example = ""
    for phrase in ctx.injected_phrases:
        for i in _occurrences(norm, phrase, 200):
            start = i + len(phrase)
            before = norm[i - 1] if i > 0 else "\n"
            after = norm[start] if start < len(norm) else "\n"
            if _WORDLIKE.match(before) or _WORDLIKE.match(after):
                mid += 1
                if not example:
                    example = _original_around(ctx, phrase, i)
    if mid >= 2 and not ctx.page_is_spam:
        findings.append(
            _finding(
                "injected_text",
                "high" if mid >= 3 or ctx.title_hits.spammy() else "medium",
                f"title/keyword spam phrase pasted {mid}x into sentences, e.g. …{example}…",
            )
        )
    if not ctx.page_is_spam and not ctx.reporting:
        findings.extend(_spam_blocks(ctx))
        findings.extend(_title_repeats(ctx))
        findings.extend(_repeated_terms(ctx))
        findings.extend(_brand_tokens(ctx))
        findings.extend(_numbered_terms(ctx))
    findings.extend(_headline_runs(ctx))
    # 2. keyword chains: blocks made of spam keywords joined by separators
    chains = ctx.chains
    if chains and not ctx.page_is_spam:
        chain = max(chains, key=lambda c: c.weight)
        hits = chain.hits
        findings.append(
            _finding(
                "keyword_stuffing",
                "high" if hits.strong >= 2 or len(chains) >= 2 else "medium",
                f"<{chain.element.tag}> is a chain of spam keywords "
                f"({hits.describe(original=chain.text)}): "
                f"{chain.text}",
            )
        )
    findings.extend(_link_farms(ctx))
    return findings


def _spam_blocks(ctx: Context) -> list[Finding]:
    """Spam paragraphs on a page that is otherwise about something else."""
    chained = {id(block) for block in ctx.chains}
    worst: Block | None = None
    for block in ctx.term_blocks:
        if block.weight < 6 or id(block) in chained or len(block.text) < 10:
            continue
        hits = block.hits
        if hits.strong and not hits.counter and (worst is None or block.weight > worst.weight):
            worst = block
    if worst is None:
        return []
    return [
        _finding(
            "injected_text",
            "high",
            f"spam text ({worst.hits.describe(original=worst.text)}) in <{worst.element.tag}> "
            "of an unrelated "
            f"page: {worst.text}",
        )
    ]


def _mid_sentence(text: str, start: int, end: int) -> bool:
    """Is text[start:end] glued into running text (a word right before or after it)?"""
    i = start - 1
    while i >= 0 and text[i] == " ":
        i -= 1
    j = end
    while j < len(text) and text[j] == " ":
        j += 1
    before = i >= 0 and bool(_WORD_CHAR.match(text[i]))
    after = j < len(text) and bool(_WORD_CHAR.match(text[j]))
    return before or after


def _repeated_terms(ctx: Context) -> list[Finding]:
    """A spam phrase pasted again and again into the middle of the page's sentences.

    Honest text mentions a term in varying wording; a pasted phrase carries the same
    words around the term every time (``乐鱼体育官网``, ``MAXWIN88 best online casino``)
    while its neighbours are random.
    """
    norm = ctx.doc.norm_text
    for term, count in ctx.body_hits.counts.most_common(10):
        info = ctx.body_hits.terms[term]
        if info.weight < 2 or count < 3:
            continue
        lefts: dict[str, int] = defaultdict(int)
        rights: dict[str, int] = defaultdict(int)
        inside = 0
        example = ""
        for i in _occurrences(norm, term, 200):
            start = i + len(term)
            if _mid_sentence(norm, i, start):
                inside += 1
                lefts[norm[max(0, i - 4) : i]] += 1
                rights[norm[start : start + 4]] += 1
                example = example or _original_around(ctx, norm[i:start], i)
        same = max([*lefts.values(), *rights.values(), 0])
        if inside >= 3 and same >= 3 and same * 4 >= inside * 3:
            return [
                _finding(
                    "injected_text",
                    "high",
                    f"spam phrase around {term!r} pasted {inside}x into sentences, "
                    f"e.g. …{example}…",
                )
            ]
    return []


def brand_like(token: str) -> bool:
    """``MAXWIN88``, ``SpinRoyale``, ``UFABET``, ``LuckyJet777``; not ``BETWEEN``/``BetaBeat``."""
    parts = [p.lower() for p in _COMPONENTS.findall(token)]
    letters = "".join(p for p in parts if not p.isdigit())
    if any(p in _GAMBLING_WORDS for p in parts):
        return True
    if sum(1 for p in parts if p in _CASINO_FLAVOUR) >= 2:
        return True  # RoyalAce, LuckyJet, GoldenKingClub
    if parts and parts[-1].isdigit() and len(letters) >= 4:
        lucky = ("bet", "slot", "win", "jet", "lucky", "joker", "zeus", "ace", "spin")
        return (
            parts[-1].endswith(_GAMBLING_NUMBERS) and any(w in letters for w in lucky)
        ) or parts[-1] in ("777", "888", "88", "168")
    return letters.endswith("bet") and len(letters) <= 8 and token.isupper()


def _class_table() -> bytes:
    """bytes.translate table: A-Z -> ``A``, a-z -> ``a``, 0-9 -> ``0``, ``_`` kept,
    every other byte -> space."""
    table = bytearray(b" " * 256)
    for chars, cls in (
        (string.ascii_uppercase, "A"),
        (string.ascii_lowercase, "a"),
        (string.digits, "0"),
        ("_", "_"),
    ):
        for char in chars:
            table[ord(char)] = ord(cls)
    return bytes(table)


_CLASSES = _class_table()
# _BRAND_TOKEN's shapes over character classes (``MAXWIN88`` -> `` AAAAAA00``): each
# starts with a one-character literal, which re finds several times faster than a
# character class (or a two-character literal: the class string is mostly spaces).
# A token starts the text or follows a space (the negative lookbehind: no copy of the
# text with a space before it is needed).
# Tokens starting upper-case; lower-case ones (``slot777``) end in two digits or more
# after a letter (`` aaaa000``), which are rare: _LETTER_DIGITS finds them (trying each
# digit) and each is checked where it stands. The lookahead, which every upper-case
# shape passes, drops plain capitalised words in one step.
_UPPER_SHAPE = re.compile(
    rb"A(?<![^ ]A)(?=a*+[A0])(?:A++0++|[Aa]*+0{2,}+|a++A[Aa]*+0*+|A{4,}+)(?![Aa0_])"
)
# Two digits or more after a letter, then no word character (a digit run ends there).
_LETTER_DIGITS = re.compile(rb"0(?<=[Aa]0)0++(?![Aa_])")
_LOWER_LETTERS = re.compile(rb"a[Aa]*+")
_WORD = re.compile(r"\w")


def brand_tokens(text: str) -> list[str]:
    """What ``_BRAND_TOKEN.findall(text)`` finds (order aside), several times faster.

    The shapes are matched on a one-byte-per-character class string; a non-ASCII
    character becomes a space there, so a match next to one is checked again against
    ``\\w`` (``中ABC88`` is no token: 中 is a word character).
    """
    return [text[start:end] for start, end in _brand_spans(text)]


def _brand_spans(text: str) -> list[tuple[int, int]]:
    """Where brand_tokens() finds its tokens in ``text``."""
    classes = text.encode("ascii", "replace").translate(_CLASSES)  # "?": one per char
    spans = [m.span() for m in _UPPER_SHAPE.finditer(classes)]
    first = _LETTER_DIGITS.search(classes)  # most texts hold none: no iterator then
    if first is not None:
        spans.extend(_lower_spans(classes, first.start()))
    return [
        (start, end)
        for start, end in spans
        if not (start and _WORD.match(text, start - 1)) and not _WORD.match(text, end)
    ]


def _lower_spans(classes: bytes, pos: int) -> list[tuple[int, int]]:
    """Spans of the lower-case tokens (``slot777``: a word of letters, the first
    lower-case, then digits) in ``classes``, from ``pos`` (the first letter-digits).

    A letter-digits run is a token when its letters follow the space before them, or
    start the text; that space is searched for only back to the end of the run before
    (a digit, so a word character, is there), which keeps the search linear.
    """
    spans = []
    after = 0
    for m in _LETTER_DIGITS.finditer(classes, pos):
        digits, end = m.span()
        start = classes.rfind(b" ", after, digits) + 1
        # No space back to the run before: glued to it, unless no run is before.
        if (start or not after) and _LOWER_LETTERS.fullmatch(classes, start, digits):
            spans.append((start, end))
        after = end
    return spans


def _brand_tokens(ctx: Context) -> list[Finding]:
    """A gambling-looking brand (``MAXWIN88``, ``SpinRoyale``) repeated through the text."""
    site = ctx.doc.site
    # Only repeated tokens can count: their shape is judged once each.
    counts = Counter(brand_tokens(ctx.doc.text[:30_000]))
    repeated = sorted(
        (n, t) for t, n in counts.items() if n >= 2 and t.lower() not in site and brand_like(t)
    )
    # The gambling-hint check is needed too, but costs more on pages where it fails
    # (twenty full-text searches) than the token search does: it comes second.
    if not repeated or not any(hint in ctx.doc.norm_text for hint in _BRAND_HINTS):
        return []
    n, token = repeated[-1]
    return [
        _finding(
            "injected_text",
            "high",
            f"gambling-looking brand {token!r} repeated {n}x in the page text",
        )
    ]


_RUN_SPLIT = re.compile(r"[ \u3000]{1,3}")
_NO_SPACE_SCRIPT = re.compile(r"[\u0e00-\u0e7f\u3040-\u30ff\u3400-\u9fff]")


# False when the text surely holds no character _NO_SPACE_SCRIPT looks for (it may be
# True for Hangul alone: each block is then checked with _NO_SPACE_SCRIPT).
_maybe_cjk_thai = has_cjk_thai


def _headline_runs(ctx: Context) -> list[Finding]:
    """A paragraph that is just other headlines of the site run together as plain text.

    Kits paste the site's own headline list (unlinked) to pad pages with fresh-looking
    text; honest pages link their headlines in lists instead of gluing them together.
    Only CJK/Thai text is checked: there headlines carry no inner spaces, so the spaces
    between them mark where one ends.
    """
    # Cheap exact gates first: ASCII text holds no CJK/Thai (isascii() is O(1)), and
    # four segments need three separators. Separators are counted once CJK/Thai is
    # found in the long blocks together: counting them in every block first cost
    # more on other pages than the check of the few more blocks it spared.
    pending = [
        (el, text) for el, text in ctx.doc.blocks[:5000] if len(text) >= 40 and not text.isascii()
    ]
    if not pending or not _maybe_cjk_thai("\n".join([text for _el, text in pending])):
        return []
    candidates = []
    for el, text in pending:
        if text.count(" ") + text.count("\u3000") < 3:
            continue
        if el.tag in ("ul", "ol", "nav", "table", "tr", "marquee"):
            continue
        if not _NO_SPACE_SCRIPT.search(text):
            continue
        segments = [seg for seg in _RUN_SPLIT.split(text.strip()) if len(seg) >= 8]
        if len(segments) >= 4:
            candidates.append((el, text, segments))
    if not candidates:
        return []
    known_texts = {link_text(link).strip() for link in ctx.doc.links[:3000]}
    known_texts.update(text.strip() for _el, text in ctx.doc.blocks[:5000])
    for el, text, segments in candidates:
        known = sum(1 for seg in segments if seg in known_texts)
        if known >= 4 and known * 2 >= len(segments):
            return [
                _finding(
                    "link_farm",
                    "medium",
                    f"<{el.tag}> strings {known} of the site's own headlines together as "
                    f"unlinked filler: {text}",
                )
            ]
    return []


def _numbered_terms(ctx: Context) -> list[Finding]:
    """Spam terms fused with digits (``สล็อต8888``, ``slot777``, ``娱乐888``): brand names
    that kits paste into sentences; honest text puts a space or a unit in between."""
    norm = ctx.doc.norm_text
    found = []
    for term, info in ctx.body_hits.terms.items():
        if info.weight < 2:
            continue
        for i in _occurrences(norm, term, 50):
            start = i + len(term)
            if norm[start : start + 3].isdigit():
                found.append(norm[max(0, i - 30) : start + 30])
    if not found:
        return []
    return [
        _finding(
            "injected_text",
            "high" if len(found) >= 2 else "medium",
            f"spam brand with a number pasted into the text {len(found)}x, e.g. …{found[0]}…",
        )
    ]


def _title_repeats(ctx: Context) -> list[Finding]:
    """The page's own headline repeated in the body with a spam brand glued on."""
    segments = ctx.title_segments
    if not segments:
        return []
    main = max(segments, key=len)
    if len(main) < 8:
        return []
    repeats = []
    for text, norm in zip(ctx.block_texts, ctx.block_norms, strict=True):
        if len(text) > 4 * len(main) + 200 or main not in norm:
            continue
        rest = norm.replace(main, " ")
        hits = scan(rest)
        rest_text = text.replace(main, " ")
        # Every token holds a _BRAND_SEED match; most texts (CJK, Vietnamese) hold none,
        # found faster than the token search fails on them.
        brand = _BRAND_SEED.search(rest_text) is not None and any(
            brand_like(t) for t in brand_tokens(rest_text)
        )
        if (hits.weight or brand) and not hits.counter:
            repeats.append((text, hits, hits.weight >= 2 or brand))
    # One repeat needs a clear spam affix; a weak one (``【鼎盛88官网】``) must recur.
    if not repeats or (len(repeats) < 2 and not any(strong for _t, _h, strong in repeats)):
        return []
    text, hits, _strong = repeats[0]
    return [
        _finding(
            "injected_text",
            "high",
            f"headline repeated {len(repeats)}x with spam ({hits.describe()}) attached: {text}",
        )
    ]


def _spam_links(links: list[Link], lexical: bool = True) -> list[Link]:
    """Links whose anchor text or target names spam (lexicon, brand shape, domain).

    One lexicon pass over all anchors together rather than one per link.
    ``lexical=False`` skips the lexicon when the page text has no spam term at all.
    """
    anchors = [link_text(link) for link in links]
    spam = [spammy_domain(link.domain) for link in links]
    if lexical:
        todo = [i for i, flagged in enumerate(spam) if not flagged]
        texts = normalise_many([anchors[i] for i in todo])
        for i, spammy in zip(todo, spammy_each(texts), strict=True):
            spam[i] = spammy
    for i in _brand_anchors(anchors):
        spam[i] = True
    return [link for link, flagged in zip(links, spam, strict=True) if flagged]


def _brand_anchors(anchors: list[str]) -> set[int]:
    """Indexes of the anchors holding a brand-like token, from one token search over
    all of them: tokens never span the newline between anchors, which stands where a
    text's edge would (no word character, a space in the class string), so each
    anchor's tokens are the ones found inside it."""
    joined = "\n".join(anchors)
    brands = [start for start, end in _brand_spans(joined) if brand_like(joined[start:end])]
    if not brands:
        return set()
    starts = []  # of each anchor in joined
    pos = 0
    for anchor in anchors:
        starts.append(pos)
        pos += len(anchor) + 1
    return {bisect_right(starts, start) - 1 for start in brands}


def _link_sample(links: list[Link]) -> str:
    """Evidence: the first few links as ``anchor -> href``."""
    return "; ".join(
        f"{collapse_ws(link_text(link))[:40]} -> {link.href[:60]}" for link in links[:5]
    )


_LINK_WRAPPERS = frozenset(("li", "td", "span", "p", "dd", "dt", "strong"))


def _link_farms(ctx: Context) -> list[Finding]:
    findings = []
    lexical = ctx.body_hits.weight > 0
    if not ctx.page_is_spam and not ctx.reporting:
        candidates = [link for link in ctx.doc.links[:2000] if link.external and not link.hidden]
        # A farm takes two links at least: a lone foreign link is not even looked at.
        spam_links = _spam_links(candidates, lexical) if len(candidates) >= 2 else []
        if len(spam_links) >= 3 or len({link.href for link in spam_links}) >= 2:
            findings.append(
                _finding(
                    "link_farm",
                    "high",
                    f"{len(spam_links)} links with spam anchor text to other sites: "
                    + _link_sample(spam_links),
                )
            )
    if not lexical:
        return findings
    groups: dict[etree._Element, list[Link]] = defaultdict(list)
    for link in ctx.doc.links:
        if link.hidden:
            continue  # hidden link blocks are reported by detect_hidden
        parent = link.element.getparent()
        if parent is None:
            continue
        if parent.tag in _LINK_WRAPPERS:  # <li><a>: the list holds the links together
            grand = parent.getparent()
            if grand is not None:
                parent = grand
        groups[parent].append(link)
    big = [(parent, links) for parent, links in groups.items() if len(links) >= 5]
    # Every big group's anchors folded and scanned in one pass.
    texts = normalise_many(
        [link_text(link) + " " + link.href for _p, links in big for link in links[:300]]
    )
    flags = spammy_each(texts)
    if not any(flags):
        return findings
    spammy = iter(flags)
    for parent, links in big:
        spam_anchors = [link for link in links[:300] if next(spammy)]
        if len(spam_anchors) >= 4 and len(spam_anchors) >= 0.3 * len(links):
            external = {link.domain for link in links if link.external}
            severity = "high" if external or not ctx.page_is_spam else "medium"
            findings.append(
                _finding(
                    "link_farm",
                    severity,
                    f"<{parent.tag}> block of {len(links)} links, {len(spam_anchors)} with spam "
                    f"anchors, to {len(external)} other sites: " + _link_sample(spam_anchors),
                )
            )
    return findings[:5]


# ---------------------------------------------------------------- redirects


def detect_redirect(ctx: Context) -> list[Finding]:
    doc = ctx.doc
    findings = []
    if doc.refresh is not None:
        delay, target = doc.refresh
        domain = external_target(target, doc.site) if target else None
        spam = bool(domain) and (
            spammy_domain(domain or "") or ctx.body_hits.spammy() or ctx.title_hits.spammy()
        )
        # Without the page's own URL any absolute target looks foreign; then only a
        # spam-looking target counts.
        if domain and (doc.site or spam):
            findings.append(
                _finding(
                    "meta_refresh",
                    "high" if spam or delay <= 1 else "medium",
                    (
                        "HTTP Refresh: header"
                        if doc.refresh_source == "header"
                        else "<meta http-equiv=refresh>"
                    )
                    + f" after {delay}s to another site: {target}",
                )
            )
    findings.extend(_alternate_findings(doc))
    for iframe, _hidden in doc.iframes[:100]:
        finding = _overlay(iframe, doc.site)
        if finding:
            findings.append(finding)
    for report in ctx.scripts:
        findings.extend(navigation_findings(report, doc.site))
        for html in report.written_html[:5]:
            findings.extend(written_html_findings(html, doc.site, report.obfuscated))
    return findings


def _alternate_findings(doc: Document) -> list[Finding]:
    """<link rel=canonical|amphtml|alternate> or <base> sending search engines to a
    spam-looking site: the page's ranking is handed to it (the AMP hijack of .ac.id and
    .go.id pages), or every relative link leads there.
    Ordinary domains do not count: sites move, and mirror their pages."""
    own = url_domain(doc.url) if doc.url else ""
    for href in doc.alternates:
        domain = url_domain(href) if href.lower().startswith(("http", "//")) else ""
        if domain and domain != own and spammy_url(href, domain):
            return [
                _finding(
                    "canonical_hijack",
                    "high",
                    "<link rel=canonical/amphtml/alternate> or <base> gives a "
                    f"gambling/porn-looking site as this page's address: {href}",
                )
            ]
    return []


def _is_full(value: str | None) -> bool:
    if not value:
        return False
    v = value.strip().lower().replace(" ", "")
    if v in ("100%", "100vw", "100vh"):
        return True
    return v.endswith("px") and v[:-2].isdigit() and int(v[:-2]) >= 1500


def _overlay(iframe: etree._Element, site: str) -> Finding | None:
    """A full-screen iframe of another site; its shape is checked before its address's
    domain (a suffix-list lookup on a site's first page): most frames are small."""
    style = (iframe.get("style") or "").lower().replace(" ", "")
    decls = dict(part.split(":", 1) for part in style.split(";") if ":" in part and len(part) < 200)
    parent = iframe.getparent()
    at_top = parent is None or parent.tag in ("body", "html", "frameset")
    position = decls.get("position")
    # Responsive embeds are absolute 100% boxes inside a sized wrapper; an overlay
    # is fixed to the viewport, or absolute at the top of <body>.
    covering = position == "fixed" or (position == "absolute" and at_top)
    full_w = _is_full(decls.get("width")) or _is_full(iframe.get("width"))
    full_h = _is_full(decls.get("height")) or _is_full(iframe.get("height"))
    if not (full_w and full_h and (covering or (at_top and position is None))):
        return None
    src = iframe.get("src") or ""
    domain = external_target(src, site)
    if domain and domain not in _TRACKERS:
        return _finding(
            "iframe_overlay",
            "high",
            f"full-screen iframe covers the page with another site: {src}",
        )
    return None


# A finding on written HTML needs an iframe, a link to another site (an absolute href:
# "//", or "&" for entity-encoded slashes) or a hidden element (style, hidden,
# marquee); HTML with none of these (``<script src=x>``, ``<a href="mailto:">``) is not
# parsed at all.
_FRAGMENT_MARKERS = ("iframe", "//", "&", "style", "hidden", "marquee")


def written_html_findings(
    html: str, site: str, obfuscated: bool, source: str = "script writes"
) -> list[Finding]:
    """Findings for HTML a script writes into the page (document.write, innerHTML), or
    that shows in the page another way (``source`` says which, for the evidence);
    ``obfuscated``: written so as not to be seen (encoded, or in an invisible frame)."""
    low = html[:200_000].lower()
    if not any(marker in low for marker in _FRAGMENT_MARKERS):
        return []
    fragment = parse(f"<html><body>{html[:200_000]}</body></html>", "")
    fragment.site = site
    findings = []
    for iframe, _ in fragment.iframes[:20]:
        finding = _overlay(iframe, site)
        if finding:
            findings.append(_finding("iframe_overlay", "high", f"{source} {finding.evidence}"))
    links = [link for link in fragment.links if _external(link, site)]
    hidden = list(fragment.hidden_blocks)
    hits = fragment.hits
    anchors = " ".join(link_text(link) for link in links[:200])
    anchor_hits = _hits(anchors)
    if links and (
        anchor_hits.spammy() or hits.spammy() or any(spammy_domain(k.domain) for k in links)
    ):
        domains = sorted({link.domain for link in links})
        kind = "hidden_links" if hidden or obfuscated else "link_farm"
        findings.append(
            _finding(
                kind,
                "high",
                f"{source} {len(links)} links to {', '.join(domains[:8])}"
                f"{' inside a hidden block' if hidden else ''}: {anchors}",
            )
        )
    elif hidden:
        for block in hidden:
            hidden_hits = _hits(block.text)
            if hidden_hits.spammy():
                findings.append(
                    _finding(
                        "hidden_content",
                        "high",
                        f"{source} hidden spam ({hidden_hits.describe()}): {block.text}",
                    )
                )
                break
    return findings


def _external(link: Link, site: str) -> bool:
    return bool(link.domain) and link.domain != site


# ---------------------------------------------------------------- parasite pages


def detect_parasite(ctx: Context) -> list[Finding]:
    if not ctx.page_is_spam:
        return []
    hits, _length = ctx.phrase_free
    top = hits.categories.most_common(1)[0][0] if hits.categories else "g"
    return [
        _finding(
            "parasite_page",
            "high",
            f"the page itself is {_TOPICS.get(top, 'spam')} spam: {hits.occurrences} hits of "
            f"{hits.distinct} terms ({hits.describe(12)}); title: {collapse_ws(ctx.doc.title)}",
        )
    ]


DETECTORS: tuple[Callable[[Context], Iterable[Finding]], ...] = (
    detect_title,
    detect_hidden,
    detect_debris,
    detect_text,
    detect_redirect,
    detect_parasite,
)


def run_all(doc: Document) -> tuple[list[Finding], Context]:
    ctx = Context(doc)
    findings: list[Finding] = []
    for detector in DETECTORS:
        findings.extend(detector(ctx))
    return findings, ctx


__all__ = ["Context", "brand_like", "run_all", "written_html_findings"]
