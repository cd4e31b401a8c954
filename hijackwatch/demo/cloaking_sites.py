"""Fixture sites that cloak (and one honest dynamic site that must not look like it does).

- ``ua-cloak``: a school whose homepage and one article show gambling spam (title,
  keywords, hidden links) only to crawler user agents;
- ``referer-cloak``: a county office whose homepage 302-redirects visitors arriving
  from a search engine to a casino (a ``.invalid`` host: never a real one), and whose
  notice page serves them a gambling landing page instead;
- ``script-redirect``: a news site with search-visitor redirect scripts, obfuscated
  with fromCharCode, \\x escapes, unescape/%xx, the p,a,c,k,e,d packer and atob,
  inline and external (same host, and on the ``script-cdn`` host), plus a title swap;
- ``script-cdn``: the other host serving an obfuscated redirect script;
- ``dynamic-news``: honest and dynamic: a nonce, a timestamp and a rotating
  recommendation list on every request, a cookie banner left out for bots, a lighter
  layout for mobile user agents, and analytics (Baidu Tongji, Google tag, CNZZ)
  that read the referrer. Every profile must find it clean.

``CLOAKED`` lists what a profile crawl must find beyond the browser verdicts.
Cross-host references need the other server's address, known only once it listens:
``bind_peers(web)`` fills it in (``FixtureWeb`` calls it on start and on ``switch``;
until then the reference points at a ``.invalid`` host).
"""

from __future__ import annotations

import base64
import html
import random
import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from hijackwatch.demo.sites import BAIDU_TONGJI, Page, SiteSpec, html_page, page

CASINO = "http://www.vip8888-casino.invalid/"
BOT_UA = re.compile(r"bot|spider|crawl|slurp", re.I)
MOBILE_UA = re.compile(r"mobile|android|iphone", re.I)
SEARCH_REFERER = re.compile(r"baidu\.com|google\.|sogou\.com|so\.com|bing\.com", re.I)

# (site, path) -> finding kind some non-browser profile's row of that page must carry
CLOAKED: dict[tuple[str, str], str] = {
    ("ua-cloak", "/"): "ua_cloaking",
    ("ua-cloak", "/news/2.html"): "ua_cloaking",
    ("referer-cloak", "/"): "referer_cloaking",
    ("referer-cloak", "/notice/1.html"): "referer_cloaking",
}
# (site, path) -> finding kind the browser row must carry (scripts, static or fetched)
SCRIPTED: dict[tuple[str, str], str] = {
    ("script-redirect", "/"): "script_redirect",
    ("script-redirect", "/news/1.html"): "script_redirect",
    ("script-redirect", "/news/2.html"): "script_redirect",
    ("script-redirect", "/news/3.html"): "script_redirect",
    ("script-redirect", "/news/4.html"): "script_redirect",
    ("script-redirect", "/about.html"): "title_swap",
}
HONEST = ("dynamic-news",)


@dataclass
class PeeredSite(SiteSpec):
    """A site whose pages point at other fixture sites (see ``bind_peers``)."""

    peers: dict[str, str] = field(default_factory=dict)  # site name -> base URL

    def peer(self, name: str) -> str:
        return self.peers.get(name, f"http://{name}.invalid/")


def bind_peers(web: Any) -> None:
    """Tell every PeeredSite of a started FixtureWeb where the other sites listen."""
    bases = {site.name: url for url, site in web.site_urls()}
    for _, site in web.site_urls():
        if isinstance(site, PeeredSite):
            site.peers.update(bases)


# --- obfuscation, as hijack kits do it -------------------------------------------------
def redirect_js(target: str = CASINO) -> str:
    return (
        "var r=document.referrer;"
        "if(r.indexOf('baidu')>-1||r.indexOf('google')>-1||r.indexOf('sogou')>-1)"
        f"{{window.location.href='{target}';}}"
    )


def from_char_code(code: str) -> str:
    return f"eval(String.fromCharCode({','.join(str(ord(c)) for c in code)}));"


def hex_escaped(target: str = CASINO) -> str:
    url = "".join(f"\\x{ord(c):02x}" for c in target)
    return (
        "var s=document.referrer;var k=unescape('%62%61%69%64%75');"
        f'if(s.indexOf(k)!=-1){{window.location.href="{url}";}}'
    )


def _base36(n: int) -> str:
    digits = "0123456789abcdefghijklmnopqrstuvwxyz"
    out = ""
    while True:
        n, r = divmod(n, 36)
        out = digits[r] + out
        if not n:
            return out


def packed(code: str) -> str:
    """Dean Edwards' p,a,c,k,e,d packer (radix 36), as found on hijacked pages."""
    words: list[str] = []
    for w in re.findall(r"\b\w+\b", code):
        if w not in words:
            words.append(w)
    payload = re.sub(r"\b\w+\b", lambda m: _base36(words.index(m.group())), code)
    payload = payload.replace("\\", "\\\\").replace("'", "\\'")
    return (
        "eval(function(p,a,c,k,e,d){e=function(c){return c.toString(36)};"
        "if(!''.replace(/^/,String)){while(c--){d[c.toString(a)]=k[c]||c.toString(a)}"
        "k=[function(e){return d[e]}];e=function(){return'\\\\w+'};c=1};"
        "while(c--){if(k[c]){p=p.replace(new RegExp('\\\\b'+e(c)+'\\\\b','g'),k[c])}}return p}"
        f"('{payload}',36,{len(words)},'{'|'.join(words)}'.split('|'),0,{{}}))"
    )


def atob_wrapped(code: str) -> str:
    return f"eval(atob('{base64.b64encode(code.encode()).decode()}'));"


def unicode_escaped(target: str = CASINO) -> str:
    url = "".join(f"\\u{ord(c):04x}" for c in target)
    return (
        "(function(){var ref=document.referrer||'';"
        "if(/baidu|google|sogou|bing/i.test(ref)){"
        f"setTimeout(function(){{location.replace('{url}');}},100);}}}})();"
    )


def _script(code: str) -> str:
    return f'<script type="text/javascript">{code}</script>'


# --- ua-cloak -------------------------------------------------------------------------
SCHOOL_NAV = (
    '<nav><a href="/">Home</a> <a href="/news/1.html">Sports day</a> '
    '<a href="/news/2.html">Exam results</a> <a href="/about.html">About</a></nav>'
)
SCHOOL_TEXT = {
    "/": (
        "Riverside Secondary School",
        "Riverside Secondary School welcomes pupils aged eleven to eighteen. Our teachers "
        "help every student reach their potential through a broad curriculum, music, sport "
        "and volunteering. Parents can find term dates, uniform information and letters "
        "home on this website. The school office is open from eight until four on weekdays.",
    ),
    "/news/1.html": (
        "Sports day raises funds for the new pavilion",
        "More than six hundred pupils took part in this year's sports day. Families cheered "
        "from the stands as the relay teams broke two school records. The cake stall and "
        "raffle raised enough money to start building the new cricket pavilion next spring.",
    ),
    "/news/2.html": (
        "Exam results published",
        "Congratulations to our students on an excellent set of results. Nine in ten pupils "
        "achieved the grades they needed for their chosen college or apprenticeship. Results "
        "letters can be collected from reception, and teachers are available for advice.",
    ),
    "/about.html": (
        "About the school",
        "Founded in 1958, the school serves the villages along the river valley. It became "
        "an academy in 2012 and now shares a sixth form with two neighbouring schools.",
    ),
}
CASINO_LINKS = (
    '<div style="display:none">'
    '<a href="https://www.amjs-casino.example/">澳门金沙官网</a> '
    '<a href="https://www.vns-9977.example/">威尼斯人官方网站</a> '
    '<a href="https://www.ag-zhenren.example/">真人百家乐app下载</a> '
    '<a href="https://www.ty-sports.example/">体育平台官网入口</a></div>'
)
SPAM_TITLE = "澳门金沙官网_威尼斯人娱乐城_真人百家乐在线"
SPAM_TEXT = (
    "<p>澳门金沙官网是亚洲最大的真人百家乐与体育投注平台,新用户注册即送彩金,"
    "威尼斯人娱乐城提供在线老虎机、真人视讯、捕鱼游戏,24小时极速提款。</p>"
)


def _school(path: str, *, for_bots: bool) -> str:
    title, text = SCHOOL_TEXT[path]
    head = '<meta name="description" content="Riverside Secondary School, River Valley">\n'
    body = f"{SCHOOL_NAV}<main><h1>{title}</h1><p>{text}</p></main>"
    if for_bots:
        title = f"{SPAM_TITLE} - {title}"
        head = (
            '<meta name="keywords" content="澳门金沙官网,威尼斯人,真人百家乐,体育投注">\n'
            '<meta name="description" content="澳门金沙官网,真人百家乐在线,注册送彩金">\n'
        )
        spam = f"<h1>{SPAM_TITLE}</h1>{SPAM_TEXT}<p>{text}</p>{SPAM_TEXT}"
        body = f"{SCHOOL_NAV}<main>{spam}</main>{CASINO_LINKS}"
    return html_page(html.escape(title), body, head=head)


def ua_cloak() -> SiteSpec:
    pages = {path: page(_school(path, for_bots=False)) for path in SCHOOL_TEXT}
    handlers = {}
    for path in ("/", "/news/2.html"):
        human, bot = pages[path], page(_school(path, for_bots=True), expect=None)

        def serve(headers: Mapping[str, str], human: Page = human, bot: Page = bot) -> Page:
            return bot if BOT_UA.search(headers.get("user-agent", "")) else human

        handlers[path] = serve
    return SiteSpec("ua-cloak", pages, handlers)


# --- referer-cloak --------------------------------------------------------------------
def _county(title: str, text: str) -> str:
    nav = '<div class="menu"><a href="/">首页</a> <a href="/notice/1.html">通知公告</a></div>'
    return html_page(f"{title}_河谷县人民政府", f"{nav}<h1>{title}</h1><p>{text}</p>", lang="zh-CN")


def referer_cloak() -> SiteSpec:
    home = page(
        _county(
            "河谷县人民政府门户网站",
            "河谷县人民政府门户网站提供政务公开、办事服务和互动交流。"
            "本县位于河谷平原,辖八个乡镇,以农业和旅游业为主。",
        )
    )
    notice = page(
        _county(
            "关于开展冬季森林防火检查的通知",
            "各乡镇、各有关单位:为做好冬季森林防火工作,县政府决定开展森林防火专项检查,"
            "请各单位认真组织自查,及时消除隐患,确保全县森林资源安全。",
        )
    )
    landing = page(
        html_page(
            SPAM_TITLE,
            f"<h1>{SPAM_TITLE}</h1>{SPAM_TEXT * 3}{CASINO_LINKS.replace('display:none', '')}",
            lang="zh-CN",
        ),
        expect=None,
    )
    hop = Page(body=b"", status=302, headers={"Location": CASINO + "?from=search"}, expect=None)

    def serve_home(headers: Mapping[str, str]) -> Page:
        return hop if SEARCH_REFERER.search(headers.get("referer", "")) else home

    def serve_notice(headers: Mapping[str, str]) -> Page:
        return landing if SEARCH_REFERER.search(headers.get("referer", "")) else notice

    return SiteSpec(
        "referer-cloak",
        {"/": home, "/notice/1.html": notice},
        {"/": serve_home, "/notice/1.html": serve_notice},
    )


# --- script-redirect + script-cdn -----------------------------------------------------
NEWS_NAV = (
    '<nav><a href="/">Home</a> '
    + " ".join(f'<a href="/news/{i}.html">Story {i}</a>' for i in range(1, 5))
    + ' <a href="/about.html">About</a></nav>'
)
HARBOUR_STORIES = [
    "The harbour authority approved plans for a new ferry terminal on the east quay. "
    "Construction is due to start in March and the terminal should open within two years.",
    "Fishermen reported the best herring season in a decade, with catches up by a third. "
    "The cooperative will invest part of the income in a new cold store.",
    "The lifeboat crew rescued two kayakers caught by the tide near the lighthouse on "
    "Sunday afternoon. Both were unhurt and thanked the volunteers.",
    "A new cycle path along the old railway line will link the harbour with the villages "
    "inland. The council expects the route to open in the summer.",
    "The maritime museum opens a photography exhibition about the town's shipyards, "
    "with pictures spanning more than a century of shipbuilding.",
]


def _harbour(title: str, text: str, extra: str = "", head: str = "") -> Page:
    return page(
        html_page(title, f"{NEWS_NAV}<main><h1>{title}</h1><p>{text}</p></main>{extra}", head=head),
        expect="hijacked",
    )


def script_redirect() -> PeeredSite:
    site = PeeredSite("script-redirect", {})
    cdn_script = lambda: f"{site.peer('script-cdn')}static/js/stat.js"  # noqa: E731
    site.pages = {
        "/": _harbour(
            "Harbour Gazette", HARBOUR_STORIES[0], _script(from_char_code(redirect_js()))
        ),
        "/news/1.html": _harbour(
            "Ferry terminal approved", HARBOUR_STORIES[1], _script(hex_escaped())
        ),
        "/news/2.html": _harbour(
            "Record herring season", HARBOUR_STORIES[2], _script(packed(redirect_js()))
        ),
        "/news/3.html": _harbour(
            "Lifeboat rescue", HARBOUR_STORIES[3], '<script src="/js/common.js"></script>'
        ),
        "/about.html": _harbour(
            "About the Harbour Gazette",
            HARBOUR_STORIES[4],
            _script("document.title='Harbour Gazette - local news since 1921';"),
        ),
        "/js/common.js": Page(
            body=atob_wrapped(redirect_js()).encode(),
            content_type="application/javascript",
            expect=None,
        ),
    }
    # title swap: crawlers read a spam <title>, a script shows humans a clean one
    site.pages["/about.html"].body = site.pages["/about.html"].body.replace(
        b"<title>About the Harbour Gazette</title>",
        f"<title>{SPAM_TITLE}</title>".encode(),
    )
    story4 = HARBOUR_STORIES[4]

    def serve_story4(headers: Mapping[str, str]) -> Page:
        extra = f'<script src="{cdn_script()}"></script>'
        return page(
            html_page(
                "Maritime museum exhibition", f"{NEWS_NAV}<main><p>{story4}</p></main>{extra}"
            ),
            expect=None,
        )

    # external script on another host: the verdict depends on bind_peers, so not a verdict page
    site.pages["/news/4.html"] = serve_story4({})
    site.handlers = {"/news/4.html": serve_story4}
    return site


def script_cdn() -> SiteSpec:
    return SiteSpec(
        "script-cdn",
        {
            "/": page(
                html_page("Static assets", "<p>Static files for the Harbour Gazette websites.</p>")
            ),
            "/static/js/stat.js": Page(
                body=unicode_escaped().encode(),
                content_type="application/javascript",
                expect=None,
            ),
        },
    )


# --- dynamic-news: honest, different on every request -----------------------------------
DYNAMIC_STORIES = [
    "Council approves budget for school repairs",
    "Local bakery wins national bread award",
    "Bus timetable changes from next month",
    "Volunteers plant two thousand trees",
    "Library opens on Sunday afternoons",
    "New footbridge opens over the river",
    "Museum celebrates its fiftieth birthday",
    "Farmers market moves to the town square",
    "Swimming pool reopens after refurbishment",
    "Hospital recruits twenty new nurses",
    "Choir raises money for the food bank",
    "Road works on the high street finish early",
    "Allotment waiting list reaches record length",
    "Cinema restores its original organ",
    "Youth football league adds girls' teams",
]
DYNAMIC_ARTICLE = (
    "The town council met on Tuesday evening to agree the spending plan for the coming year. "
    "Councillors voted to set aside money for repairs to three primary schools, new lighting "
    "in the central car park and longer opening hours at the recycling centre. The leader of "
    "the council said the plan protected front-line services while keeping the increase in "
    "council tax below inflation. Residents can read the full report on the council website "
    "and comment on the proposals until the end of the month. A public meeting will be held "
    "in the town hall next Thursday, when officers will answer questions about the budget."
)
CNZZ = (
    '<script type="text/javascript">document.write(unescape("%3Cspan id=\'cnzz_stat_icon_1279\''
    "%3E%3C/span%3E%3Cscript src='https://s9.cnzz.com/z_stat.php%3Fid%3D1279%26show%3Dpic' "
    "type='text/javascript'%3E%3C/script%3E\"));</script>"
)
GTAG = (
    '<script async src="https://www.googletagmanager.com/gtag/js?id=G-DYN123"></script>'
    "<script>window.dataLayer=window.dataLayer||[];function gtag(){dataLayer.push(arguments);}"
    "gtag('js',new Date());gtag('config','G-DYN123',{page_referrer:document.referrer});</script>"
)


# Every story is linked from every page (the rotating teasers alone may miss one, and
# then a crawl would not find it).
ARCHIVE = "Archive: " + " ".join(
    f'<a href="/story/{i}.html">{i + 1}</a>' for i in range(len(DYNAMIC_STORIES))
)


def _dynamic(title: str, headers: Mapping[str, str]) -> Page:
    ua = headers.get("user-agent", "")
    nonce = secrets.token_urlsafe(16)
    now = datetime.now(UTC).isoformat(timespec="microseconds")
    picks = random.sample(range(len(DYNAMIC_STORIES)), 5)
    teaser = "".join(f'<li><a href="/story/{i}.html">{DYNAMIC_STORIES[i]}</a></li>' for i in picks)
    banner = (
        ""
        if BOT_UA.search(ua)
        else '<div id="cookie-banner">We use cookies to understand how our news is read. '
        '<a href="/privacy.html">Privacy</a> <button>Accept</button></div>'
    )
    sidebar = (
        ""
        if MOBILE_UA.search(ua)
        else "<aside><h2>Weather</h2><p>Cloudy with sunny spells, highs of twelve degrees.</p>"
        "<h2>Events</h2><p>Craft fair in the town hall on Saturday morning.</p></aside>"
    )
    body = (
        f'{banner}<nav><a href="/">Home</a> <a href="/story/0.html">Budget</a></nav>'
        f'<main><h1>{html.escape(title)}</h1><p class="updated">Updated {now}</p>'
        f"<p>{DYNAMIC_ARTICLE}</p><h2>Recommended for you</h2><ul>{teaser}</ul></main>{sidebar}"
        f"<footer>{ARCHIVE}</footer>"
        f'<script nonce="{nonce}">window.__state={{"csrf":"{nonce}","t":"{now}"}};</script>'
        f"{BAIDU_TONGJI}{GTAG}{CNZZ}"
    )
    head = (
        f'<meta name="csrf-token" content="{nonce}">\n'
        '<meta name="description" content="Valley Courier: news from the town and the valley">\n'
    )
    return page(html_page(f"{html.escape(title)} - Valley Courier", body, head=head))


def dynamic_news() -> SiteSpec:
    paths = {
        "/": "Valley Courier",
        **{f"/story/{i}.html": t for i, t in enumerate(DYNAMIC_STORIES)},
    }
    pages: dict[str, Page] = {}
    handlers = {}
    for path, title in paths.items():

        def serve(headers: Mapping[str, str], title: str = title) -> Page:
            return _dynamic(title, headers)

        handlers[path] = serve
        pages[path] = serve({})
    return SiteSpec("dynamic-news", pages, handlers)


def cloaking_sites(variant: int = 1) -> list[SiteSpec]:
    """The cloaking fixture sites; the same in every ``variant`` (cloaking persists)."""
    return [ua_cloak(), referer_cloak(), script_redirect(), script_cdn(), dynamic_news()]
