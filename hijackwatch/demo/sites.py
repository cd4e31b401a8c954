"""The fixture web's sites: realistic small sites, some clean, some hijacked.

``build_sites(variant)`` returns the web as it stands at one point in time:
variant 1 is the first crawl, variant 2 a later one in which ``metro-news`` has
been cleaned and ``county-gov`` newly hijacked (the incident scenario).
Every page states the verdict a browser-profile fetch of it must get.
"""

from __future__ import annotations

import html
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field


@dataclass
class Page:
    body: bytes
    status: int = 200
    content_type: str = "text/html; charset=utf-8"
    headers: dict[str, str] = field(default_factory=dict)
    expect: str | None = None  # verdict a browser fetch must get; None: not a verdict page
    hang: float = 0.0  # seconds to stall before never answering (a dead-slow server)


Handler = Callable[[Mapping[str, str]], Page]


@dataclass
class SiteSpec:
    name: str
    pages: dict[str, Page]
    handlers: dict[str, Handler] = field(default_factory=dict)  # per-visitor content

    def resolve(self, path: str, headers: Mapping[str, str]) -> Page | None:
        handler = self.handlers.get(path)
        if handler is not None:
            return handler(headers)
        return self.pages.get(path)


def html_page(
    title: str, body: str, *, lang: str = "en", charset: str = "utf-8", head: str = ""
) -> str:
    return (
        f'<!DOCTYPE html>\n<html lang="{lang}">\n<head>\n<meta charset="{charset}">\n'
        f"<title>{title}</title>\n{head}</head>\n<body>\n{body}\n</body>\n</html>\n"
    )


def page(text: str, expect: str | None = "clean", charset: str = "utf-8", **kw: object) -> Page:
    return Page(
        body=text.encode(charset, errors="xmlcharrefreplace"),
        content_type=f"text/html; charset={charset}",
        expect=expect,
        **kw,
    )  # type: ignore[arg-type]


def sitemap(paths: list[str]) -> Page:
    entries = "".join(f"<url><loc>{{base}}{p}</loc></url>" for p in paths)
    xml = (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f'<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">{entries}</urlset>'
    )
    return Page(body=xml.encode(), content_type="application/xml", expect=None)


def robots(sitemap_path: str = "/sitemap.xml") -> Page:
    text = f"User-agent: *\nDisallow: /admin/\nSitemap: {{base}}{sitemap_path}\n"
    return Page(body=text.encode(), content_type="text/plain", expect=None)


# --- city-university: a clean English university site full of legitimate hidden UI ------
UNI_NAV = """
<header class="site-header">
  <a class="sr-only sr-only-focusable" href="#main">Skip to main content</a>
  <nav class="mega-menu" aria-label="Main">
    <ul>
      <li><a href="/">Home</a></li>
      <li class="has-dropdown"><a href="/about/">About</a>
        <div class="dropdown" style="display:none">
          <a href="/about/">Our history</a> <a href="/about/leadership/">Leadership</a>
          <a href="/news/">News</a> <a href="/admissions/">Admissions</a>
        </div></li>
      <li><a href="/research/">Research</a></li>
      <li><a href="/admissions/">Admissions</a></li>
    </ul>
  </nav>
</header>
<div id="cookie-banner" class="cookie-banner" style="display:none">
  We use cookies to improve your experience. <a href="/privacy/">Privacy notice</a>
  <button type="button">Accept</button>
</div>
"""
UNI_FOOT = """
<footer>
  <p>City University &middot; 1 College Road &middot; <a href="/contact/">Contact</a>
   &middot; <a href="https://www.ed.gov/">Department of Education</a></p>
  <noscript><img src="/pixel.gif?ns=1" width="1" height="1" alt=""></noscript>
</footer>
<script async src="https://www.googletagmanager.com/gtag/js?id=G-XXXX"></script>
<script>
  window.dataLayer = window.dataLayer || [];
  function gtag(){dataLayer.push(arguments);}
  gtag('js', new Date()); gtag('config', 'G-XXXX', {page_referrer: document.referrer});
</script>
"""
UNI_NEWS = [
    (
        "Engineering students win regional robotics contest",
        "A team of four second-year engineering students took first place at the regional "
        "robotics championship on Saturday. Their robot sorted recycled materials faster than "
        "any other entry, and the judges praised the team's careful testing. The students "
        "will now travel to the national finals in the spring.",
    ),
    (
        "Library extends opening hours during exam period",
        "From next Monday the main library will stay open until midnight on weekdays. Study "
        "rooms can be booked online up to a week ahead, and the café on the ground floor will "
        "serve hot drinks until ten in the evening.",
    ),
    (
        "New research centre for coastal ecology opens",
        "The centre brings together biologists, geographers and engineers to study how rising "
        "sea levels affect salt marshes. It will host a public lecture series and offer "
        "summer placements for undergraduate students.",
    ),
    (
        "Alumni weekend draws record attendance",
        "More than two thousand former students returned to campus for talks, tours and a "
        "concert by the university orchestra. The weekend raised funds for new bursaries.",
    ),
    (
        "Campus sustainability report published",
        "Energy use on campus fell by twelve percent last year thanks to new insulation, "
        "solar panels on the sports hall and a switch to electric maintenance vehicles.",
    ),
]


def _uni_page(title: str, main: str) -> str:
    tabs = """
<div class="tabs"><button data-tab="t1">Overview</button><button data-tab="t2">Contacts</button>
<div id="t1" class="tab-panel">Office hours are Monday to Friday, 9am to 5pm.</div>
<div id="t2" class="tab-panel" hidden><a href="/contact/">Contact the faculty office</a></div></div>
"""
    return html_page(
        f"{title} | City University",
        f'{UNI_NAV}<main id="main"><h1>{title}</h1>{main}{tabs}</main>{UNI_FOOT}',
        head='<meta name="description" content="City University news and information">\n',
    )


def city_university() -> SiteSpec:
    pages: dict[str, Page] = {}
    news_links = "".join(
        f'<li><a href="/news/{i}/">{html.escape(t)}</a></li>'
        for i, (t, _) in enumerate(UNI_NEWS, 1)
    )
    pages["/"] = page(
        _uni_page(
            "Welcome to City University",
            f"<p>Teaching and research since 1891.</p><ul>{news_links}</ul>"
            '<p><a href="/prospectus.pdf">Download the prospectus</a> '
            '<a href="/old-page/">Archived page</a></p>',
        )
    )
    pages["/news/"] = page(_uni_page("News", f"<ul>{news_links}</ul>"))
    for i, (title, text) in enumerate(UNI_NEWS, 1):
        pages[f"/news/{i}/"] = page(_uni_page(html.escape(title), f"<p>{text}</p>" * 3))
    for path, title in [
        ("/about/", "About the university"),
        ("/admissions/", "Admissions"),
        ("/research/", "Research"),
        ("/contact/", "Contact us"),
        ("/privacy/", "Privacy notice"),
        ("/about/leadership/", "Leadership"),
    ]:
        pages[path] = page(
            _uni_page(
                title,
                "<p>Information for students, staff and visitors "
                "about our programmes, services and campus life.</p>",
            )
        )
    pages["/prospectus.pdf"] = Page(
        body=b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj<<>>endobj\n",
        content_type="application/pdf",
        expect=None,
    )
    pages["/robots.txt"] = robots()
    pages["/sitemap.xml"] = sitemap(["/", "/news/", "/about/", "/admissions/"])
    return SiteSpec("city-university", pages)


# --- metro-news: Traditional Chinese news site; one article hijacked like the seed -------
NEWS_BRAND = "pg電子·(中國)娛樂官方網站"
NEWS_ARTICLES = {
    "19035": (
        "別讓外賣平台成噪音污染幫兇",
        [
            "近年來,外賣平台快速擴張,騎手穿梭於大街小巷,為市民生活帶來便利。",
            "然而,部分騎手為趕時間頻繁按喇叭,深夜送餐的電單車聲響也令不少居民難以入眠。",
            "平台企業追求效率無可厚非,但不應以犧牲居民安寧為代價。",
            "有關部門應督促平台優化派單規則,為騎手留出合理時間,同時加強夜間噪音管理。",
            "不少居民反映,凌晨時分仍有送餐車輛在住宅區內穿行,喇叭聲與引擎聲此起彼落,長者和嬰幼兒首當其衝。",
            "騎手同樣有苦衷。平台以分鐘計算送達時限,一旦超時便要扣錢,騎手唯有爭分奪秒,甚至違規逆行。",
            "從城市管理角度看,噪音擾民屬於可以量化、可以執法的問題,關鍵在於有沒有人願意較真。",
            "平台若能在夜間時段放寬時限,並在系統中提醒騎手進入住宅區須減速靜音,問題便可緩解大半。",
            "社區亦可設置集中取餐點,讓騎手毋須逐棟穿梭,既減少噪音,也提高派送效率。",
            "說到底,便利與安寧並非不可兼得,需要平台、騎手、居民與政府各退一步,共同尋找平衡點。",
        ],
    ),
    "76720": (
        "邀您共赴「十年之約」 烏鎮再迎互聯網大會",
        [
            "第十屆世界互聯網大會將於下月在烏鎮舉行,來自多個國家和地區的嘉賓將出席。",
            "大會設有多場分論壇,聚焦人工智能、數據安全與數字經濟等議題。",
            "主辦方表示,今年將首次開放部分論壇予公眾網上觀看。",
        ],
    ),
    "55102": (
        "圖書館推出夜間自修室 市民反應熱烈",
        [
            "市立圖書館本月起試行夜間自修室,開放至晚上十一時。",
            "首周已有逾千人次使用,不少學生表示環境安靜,有助溫習。",
        ],
    ),
}


def _news_page(title: str, paras: list[str], nav: str, *, hijacked: bool = False) -> str:
    body_paras = list(paras)
    debris = ""
    footer = "<p>本網站內容版權所有,未經授權不得轉載。</p>"
    keywords = "新聞,評論,社會"
    if hijacked:
        # the seed's pattern: brand prefix in title, word salad, random-id tag debris, porn footer
        title = f"【{NEWS_BRAND}】{title}"
        keywords = "pg電子,pg電子官方網站,pg娛樂電子游戲官網"
        salad = []
        for para in body_paras:
            cut = len(para) // 2
            salad.append(para[:cut] + NEWS_BRAND + para[cut:])
        body_paras = [title, *salad, "pg電子,pg電子官方網站,pg娛樂電子游戲官網"]
        debris = (
            '<big id="xk27p"></big><td id="xk27p"><strike id="xk27p"></strike></td>'
            '<p id="xk27p"><del id="xk27p"></del></p><table id="xk27p">'
            '<noscript id="xk27p"></noscript></table><td id="xk27p"><option id="xk27p">'
            "</option></td>"
        )
        footer = '<div class="footer">精品久久久久久久久_一级全黄少妇性色生活片_免费国产香蕉视频在线观看</div>'
    paras_html = "".join(f"<p>{html.escape(p)}</p>" for p in body_paras)
    return html_page(
        html.escape(title),
        f'{debris}<div class="nav">{nav}</div><div class="news"><h1>{html.escape(title)}</h1>'
        f"{paras_html}</div>{footer}{debris}",
        lang="zh-Hant",
        head=f'<meta name="keywords" content="{html.escape(keywords)}">\n',
    )


def metro_news(variant: int) -> SiteSpec:
    nav = "".join(
        f'<a href="/news/{k}.html">{html.escape(t)}</a> ' for k, (t, _) in NEWS_ARTICLES.items()
    )
    nav = f'<a href="/">首頁</a> {nav}'
    pages: dict[str, Page] = {}
    home = [
        "歡迎瀏覽都市新聞網,我們每日為您帶來本地及國際要聞。",
        "今日焦點:天氣轉涼,市民注意保暖。",
    ]
    pages["/"] = page(_news_page("都市新聞網 - 首頁", home, nav))
    for key, (title, paras) in NEWS_ARTICLES.items():
        bad = variant == 1 and key == "19035"
        pages[f"/news/{key}.html"] = page(
            _news_page(title, paras, nav, hijacked=bad), expect="hijacked" if bad else "clean"
        )
    pages["/robots.txt"] = robots()
    pages["/sitemap.xml"] = sitemap(["/", *(f"/news/{k}.html" for k in NEWS_ARTICLES)])
    return SiteSpec("metro-news", pages)


# --- county-gov: a Simplified Chinese government office served in GBK ------------------
GOV_TEXT = [
    (
        "关于做好冬季安全生产工作的通知",
        "各乡镇人民政府、县直各有关单位:为切实做好冬季安全生产工作,"
        "有效防范各类事故发生,现将有关事项通知如下。一、提高思想认识。二、加强隐患排查。三、落实值班制度。",
    ),
    (
        "县政府召开常务会议研究部署近期重点工作",
        "会议听取了全县经济运行情况汇报,研究了农村公路建设、"
        "老旧小区改造等事项。会议强调,要抓好项目建设,确保各项目标任务圆满完成。",
    ),
    (
        "2024年度政府信息公开工作年度报告",
        "根据《中华人民共和国政府信息公开条例》规定,现公布本年度"
        "政府信息公开工作年度报告。报告包括总体情况、主动公开政府信息情况等内容。",
    ),
]
GOV_FRIENDS = (
    '<div class="links">友情链接: <a href="https://www.gov.cn/">中国政府网</a> '
    '<a href="https://www.beijing.gov.cn/">北京市人民政府</a> '
    '<a href="https://www.shanghai.gov.cn/">上海市人民政府</a></div>'
)
BAIDU_TONGJI = """<script>
var _hmt = _hmt || [];
(function() {
  var hm = document.createElement("script");
  hm.src = "https://hm.baidu.com/hm.js?0123456789abcdef0123456789abcdef";
  var s = document.getElementsByTagName("script")[0];
  s.parentNode.insertBefore(hm, s);
})();
</script>"""
GOV_HIDDEN_SPAM = (
    '<div style="position:absolute;left:-9999px;top:-9999px">'
    '<a href="https://www.amjs-casino.example/">澳门金沙官网</a> '
    '<a href="https://www.vns-9977.example/">威尼斯人官方网站</a> '
    '<a href="https://www.ag-zhenren.example/">真人百家乐app下载</a> '
    '<a href="https://www.ty-sports.example/">体育平台官网入口</a></div>'
)
SLOT_PARASITE = html_page(
    "SLOT GACOR HARI INI ⚡ Situs Judi Slot Online Maxwin Terpercaya 2024",
    "<h1>Slot Gacor Hari Ini Gampang Maxwin</h1>"
    "<p>Situs judi slot online terpercaya dengan RTP live tertinggi. Daftar slot gacor "
    "deposit pulsa tanpa potongan, bonus new member 100%. Main togel online, slot88, "
    "pragmatic play, dan live casino. Link alternatif slot gacor maxwin terbaru.</p>"
    '<p><a href="https://slot-gacor-maxwin.example/daftar">DAFTAR SEKARANG</a> '
    '<a href="https://slot-gacor-maxwin.example/login">LOGIN</a></p>' * 2,
    lang="id",
)


def _gov_page(title: str, text: str, *, hidden_spam: bool = False) -> str:
    menu = (
        '<div class="menu"><a href="/">首页</a> <a href="/zwgk/">政务公开</a> '
        '<a href="/zwgk/1.html">通知公告</a> <a href="/bsfw/">办事服务</a></div>'
    )
    return html_page(
        f"{title}_某某县人民政府",
        f"{menu}<h1>{title}</h1><p>{text}</p>{GOV_FRIENDS}"
        f"{GOV_HIDDEN_SPAM if hidden_spam else ''}{BAIDU_TONGJI}",
        lang="zh-CN",
        charset="gbk",
    )


def county_gov(variant: int) -> SiteSpec:
    hacked = variant >= 2
    pages: dict[str, Page] = {}
    pages["/"] = page(
        _gov_page("某某县人民政府门户网站", "欢迎访问某某县人民政府门户网站。", hidden_spam=hacked),
        charset="gbk",
        expect="hijacked" if hacked else "clean",
    )
    pages["/zwgk/"] = page(
        _gov_page("政务公开", "政府信息公开目录、政策文件与解读。"), charset="gbk"
    )
    pages["/bsfw/"] = page(_gov_page("办事服务", "在线办理、办事指南与便民服务。"), charset="gbk")
    for i, (title, text) in enumerate(GOV_TEXT, 1):
        pages[f"/zwgk/{i}.html"] = page(_gov_page(title, text), charset="gbk")
    listed = ["/", "/zwgk/", "/bsfw/", *(f"/zwgk/{i}.html" for i in range(1, 4))]
    if hacked:  # parasite page only reachable through the sitemap, as hijackers list them
        pages["/uploads/2024/slot-gacor-maxwin.html"] = page(SLOT_PARASITE, expect="hijacked")
        listed.append("/uploads/2024/slot-gacor-maxwin.html")
    pages["/robots.txt"] = robots()
    pages["/sitemap.xml"] = sitemap(listed)
    return SiteSpec("county-gov", pages)


# --- kampus-id: Indonesian campus; a legit "slot waktu" page and a hidden parasite -------
def kampus_id() -> SiteSpec:
    nav = '<nav><a href="/">Beranda</a> <a href="/jadwal/">Jadwal</a> <a href="/berita/">Berita</a></nav>'
    pages: dict[str, Page] = {
        "/": page(
            html_page(
                "Universitas Nusantara Raya",
                f"{nav}<h1>Selamat datang</h1>"
                "<p>Universitas Nusantara Raya adalah perguruan tinggi negeri yang "
                "berfokus pada pendidikan, penelitian dan pengabdian masyarakat.</p>",
                lang="id",
            )
        ),
        "/jadwal/": page(
            html_page(
                "Jadwal Ujian dan Slot Waktu Konsultasi",
                f"{nav}<h1>Jadwal</h1>"
                "<p>Mahasiswa dapat memilih slot waktu konsultasi dengan dosen "
                "pembimbing melalui portal akademik. Setiap slot berlangsung 30 "
                "menit. Jadwal ujian akhir semester diumumkan pekan depan.</p>",
                lang="id",
            )
        ),
        "/berita/": page(
            html_page(
                "Berita Kampus",
                f"{nav}<h1>Berita</h1><p>Mahasiswa teknik sipil "
                "memenangkan lomba jembatan tingkat nasional.</p>",
                lang="id",
            )
        ),
        "/wp-content/uploads/judi-online.html": page(SLOT_PARASITE, expect="hijacked"),
        "/sitemap.xml": sitemap(
            ["/", "/jadwal/", "/berita/", "/wp-content/uploads/judi-online.html"]
        ),
    }
    return SiteSpec("kampus-id", pages)


# --- family-firm: a clean small business with awkward pages ------------------------------
def family_firm() -> SiteSpec:
    nav = (
        '<p><a href="/">Home</a> <a href="/products/">Products</a> <a href="/big5/">中文</a> '
        '<a href="/broken/">Catalogue</a> <a href="/binary/">Data</a> <a href="/slow/">Status</a> '
        '<a href="/missing/">Old link</a> <a href="/moved/">Moved</a></p>'
    )
    broken = (
        "<html><head><title>Catalogue</head><body><div><p>Our catalogue<table><tr><td>"
        "Oak table<td>Walnut chair</div></p><a href='/'>back" + "<div>" * 3000
    )
    pages: dict[str, Page] = {
        "/": page(
            html_page(
                "Hartley & Sons Furniture",
                f"{nav}<h1>Handmade furniture since 1962</h1>"
                "<p>We build tables, chairs and cabinets from local hardwoods in our "
                'workshop.</p><iframe src="https://www.google.com/maps/embed?pb=x" '
                'width="600" height="450" style="border:0" loading="lazy"></iframe>',
            )
        ),
        "/products/": page(
            html_page(
                "Products - Hartley & Sons",
                f"{nav}<h1>Products</h1><p>Dining tables, chairs, bookcases.</p>",
            )
        ),
        "/big5/": page(
            html_page(
                "哈特利父子家具 - 中文介紹",
                f"{nav}<h1>手工家具</h1><p>本店自一九六二年起以本地硬木製作桌椅及櫥櫃。</p>",
                lang="zh-Hant",
                charset="big5",
            ),
            charset="big5",
        ),
        "/broken/": Page(body=broken.encode(), expect="clean"),
        "/binary/": Page(body=bytes(range(256)) * 64, expect=None),
        "/slow/": Page(body=b"", hang=8.0, expect=None),
        "/moved/": Page(body=b"", status=301, headers={"Location": "/products/"}, expect=None),
    }
    return SiteSpec("family-firm", pages)


def build_sites(variant: int = 1) -> list[SiteSpec]:
    """The fixture web at one point in time (see module docstring)."""
    from hijackwatch.demo.cloaking_sites import cloaking_sites  # here: it imports this module

    return [
        city_university(),
        metro_news(variant),
        county_gov(variant),
        kampus_id(),
        family_firm(),
        *cloaking_sites(variant),
    ]
