#!/usr/bin/env python3
"""Generate the labelled hijacked/clean evaluation corpus for hijackwatch.

Deterministic (fixed seed): running it rewrites every page under hijacked/ and clean/ plus
labels.jsonl byte for byte.  Host pages, injections and benign look-alike features are drawn
from independent pools and every benign feature also appears on hijacked hosts, so that a
detector has to recognise the injection itself rather than the generator's template.

Usage:  python tests/corpus/generate.py  [--check | --scripts]
"""

from __future__ import annotations

import base64
import html
import json
import random
import re
import string
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote, urlsplit

HERE = Path(__file__).resolve().parent
sys.dont_write_bytecode = True  # keep the corpus folder free of __pycache__
sys.path.insert(0, str(HERE))

from content_asia import (  # noqa: E402
    HEADLINES_JA, HEADLINES_TH, HEADLINES_VI, PROSE_JA, PROSE_TH, PROSE_VI, SITES_JA, SITES_TH,
    SITES_VI, TITLES_JA, TITLES_TH, TITLES_VI,
)
from content_en import (  # noqa: E402
    HEADLINES_EN, HEADLINES_ID, PROSE_EN, PROSE_ID, SITES_EN, SITES_ID, TITLES_EN, TITLES_ID,
)
from content_lookalike import LOOKALIKES  # noqa: E402
from content_spam import EN_THEMES, SPAM, SPAM_PATHS  # noqa: E402
from content_zh import (  # noqa: E402
    HEADLINES_HANS, HEADLINES_HANT, PROSE_HANS, PROSE_HANT, SITES_HANS, SITES_HANT, TITLES_HANS,
    TITLES_HANT,
)

SEED = 20261127
SHARED_BENIGN = HERE.parent.parent.parent / "shared" / "corpus" / "benign" / "readability"
SHARED_REL = "../../../shared/corpus/benign/readability"
LANGS = ["zh-Hans", "zh-Hant", "en", "id", "ja", "vi", "th"]
CJK = {"zh-Hans", "zh-Hant", "ja"}

BANK = {
    "zh-Hans": (SITES_HANS, TITLES_HANS, PROSE_HANS, HEADLINES_HANS),
    "zh-Hant": (SITES_HANT, TITLES_HANT, PROSE_HANT, HEADLINES_HANT),
    "en": (SITES_EN, TITLES_EN, PROSE_EN, HEADLINES_EN),
    "id": (SITES_ID, TITLES_ID, PROSE_ID, HEADLINES_ID),
    "ja": (SITES_JA, TITLES_JA, PROSE_JA, HEADLINES_JA),
    "vi": (SITES_VI, TITLES_VI, PROSE_VI, HEADLINES_VI),
    "th": (SITES_TH, TITLES_TH, PROSE_TH, HEADLINES_TH),
}

# Small per-language UI strings used by templates.
UI = {
    "zh-Hans": {"home": "首页", "pos": "当前位置", "date": "发布时间", "src": "来源", "views": "浏览次数",
                "related": "相关新闻", "latest": "最新动态", "links": "友情链接", "prev": "上一篇",
                "next": "下一篇", "print": "打印本页", "close": "关闭窗口", "more": "更多", "search": "搜索",
                "notice": "通知公告", "author": "编辑", "skip": "跳到主要内容", "cookie": "本网站使用Cookie以改善浏览体验。",
                "accept": "我知道了", "share": "分享到"},
    "zh-Hant": {"home": "首頁", "pos": "目前位置", "date": "發布日期", "src": "資料來源", "views": "點閱次數",
                "related": "相關新聞", "latest": "最新消息", "links": "相關連結", "prev": "上一則",
                "next": "下一則", "print": "列印", "close": "關閉", "more": "更多", "search": "搜尋",
                "notice": "公告", "author": "編輯", "skip": "跳到主要內容區塊", "cookie": "本網站使用Cookie以提供更好的瀏覽體驗。",
                "accept": "我同意", "share": "分享"},
    "en": {"home": "Home", "pos": "You are here", "date": "Posted", "src": "Source", "views": "Views",
           "related": "Related stories", "latest": "Latest news", "links": "Useful links", "prev": "Previous",
           "next": "Next", "print": "Print", "close": "Close", "more": "More", "search": "Search",
           "notice": "Announcements", "author": "By", "skip": "Skip to main content",
           "cookie": "We use cookies to improve your experience on our site.", "accept": "Accept", "share": "Share"},
    "id": {"home": "Beranda", "pos": "Anda di sini", "date": "Diterbitkan", "src": "Sumber", "views": "Dilihat",
           "related": "Berita terkait", "latest": "Berita terbaru", "links": "Tautan", "prev": "Sebelumnya",
           "next": "Berikutnya", "print": "Cetak", "close": "Tutup", "more": "Selengkapnya", "search": "Cari",
           "notice": "Pengumuman", "author": "Penulis", "skip": "Langsung ke konten",
           "cookie": "Situs ini menggunakan cookie.", "accept": "Setuju", "share": "Bagikan"},
    "ja": {"home": "ホーム", "pos": "現在の位置", "date": "掲載日", "src": "担当", "views": "閲覧数",
           "related": "関連記事", "latest": "新着情報", "links": "関連リンク", "prev": "前の記事", "next": "次の記事",
           "print": "印刷", "close": "閉じる", "more": "一覧へ", "search": "検索", "notice": "お知らせ",
           "author": "文", "skip": "本文へ移動", "cookie": "当サイトではCookieを使用しています。", "accept": "同意する",
           "share": "シェア"},
    "vi": {"home": "Trang chủ", "pos": "Vị trí", "date": "Ngày đăng", "src": "Nguồn", "views": "Lượt xem",
           "related": "Tin liên quan", "latest": "Tin mới", "links": "Liên kết website", "prev": "Bài trước",
           "next": "Bài sau", "print": "In trang", "close": "Đóng", "more": "Xem thêm", "search": "Tìm kiếm",
           "notice": "Thông báo", "author": "Tác giả", "skip": "Chuyển đến nội dung chính",
           "cookie": "Trang web sử dụng cookie.", "accept": "Đồng ý", "share": "Chia sẻ"},
    "th": {"home": "หน้าแรก", "pos": "ตำแหน่ง", "date": "วันที่", "src": "ที่มา", "views": "เข้าชม",
           "related": "ข่าวที่เกี่ยวข้อง", "latest": "ข่าวล่าสุด", "links": "ลิงก์หน่วยงาน", "prev": "ก่อนหน้า",
           "next": "ถัดไป", "print": "พิมพ์", "close": "ปิด", "more": "ดูทั้งหมด", "search": "ค้นหา",
           "notice": "ประกาศ", "author": "ผู้เขียน", "skip": "ข้ามไปยังเนื้อหา",
           "cookie": "เว็บไซต์นี้ใช้คุกกี้", "accept": "ยอมรับ", "share": "แชร์"},
}

FRIEND_LINKS = {
    "zh-Hans": [("中国政府网", "https://www.gov.cn/"), ("江苏省人民政府", "https://www.jiangsu.gov.cn/"),
                ("南京市人民政府", "https://www.nanjing.gov.cn/"), ("国家统计局", "https://www.stats.gov.cn/"),
                ("教育部", "http://www.moe.gov.cn/"), ("中国教育和科研计算机网", "https://www.edu.cn/"),
                ("国家卫生健康委员会", "http://www.nhc.gov.cn/"), ("信用中国", "https://www.creditchina.gov.cn/")],
    "zh-Hant": [("行政院", "https://www.ey.gov.tw/"), ("教育部", "https://www.edu.tw/"),
                ("衛生福利部", "https://www.mohw.gov.tw/"), ("政府資料開放平臺", "https://data.gov.tw/"),
                ("香港政府一站通", "https://www.gov.hk/"), ("澳門特別行政區政府入口網站", "https://www.gov.mo/")],
    "en": [("USA.gov", "https://www.usa.gov/"), ("State of New Hampshire", "https://www.nh.gov/"),
           ("National Science Foundation", "https://www.nsf.gov/"), ("CDC", "https://www.cdc.gov/"),
           ("Library of Congress", "https://www.loc.gov/")],
    "id": [("Kemendikbudristek", "https://www.kemdikbud.go.id/"), ("Indonesia.go.id", "https://indonesia.go.id/"),
           ("Kementerian Kesehatan", "https://www.kemkes.go.id/"), ("LAPOR!", "https://www.lapor.go.id/"),
           ("PDDikti", "https://pddikti.kemdikbud.go.id/")],
    "ja": [("首相官邸", "https://www.kantei.go.jp/"), ("文部科学省", "https://www.mext.go.jp/"),
           ("厚生労働省", "https://www.mhlw.go.jp/"), ("政府広報オンライン", "https://www.gov-online.go.jp/")],
    "vi": [("Cổng TTĐT Chính phủ", "https://chinhphu.vn/"), ("Bộ Giáo dục và Đào tạo", "https://moet.gov.vn/"),
           ("Cổng Dịch vụ công Quốc gia", "https://dichvucong.gov.vn/")],
    "th": [("รัฐบาลไทย", "https://www.thaigov.go.th/"), ("กระทรวงมหาดไทย", "https://www.moi.go.th/"),
           ("กระทรวงสาธารณสุข", "https://www.moph.go.th/")],
}

AUTHORS = {
    "zh-Hans": ["王晓燕", "李明", "综合科", "办公室", "宣传部 张楠", "记者 陈静"],
    "zh-Hant": ["林怡君", "陳志明", "秘書處", "新聞組", "記者 黃嘉欣"],
    "en": ["Sarah Mitchell", "Communications Office", "David Okafor", "Staff report", "Maria Gonzalez"],
    "id": ["Humas", "Admin", "Rina S.", "Tim Redaksi", "Bagian Akademik"],
    "ja": ["広報課", "総務課", "山田 花子", "編集部", "事務局"],
    "vi": ["Văn phòng", "Minh Anh", "Phòng Truyền thông", "Thu Hà"],
    "th": ["งานประชาสัมพันธ์", "กองคลัง", "สำนักปลัด", "กองบรรณาธิการ"],
}


# --------------------------------------------------------------------------------------------
# Page model
# --------------------------------------------------------------------------------------------


@dataclass
class Page:
    """A host page being assembled; injections and features append to its slots."""

    lang: str
    site: dict
    title: str
    paras: list[str]
    headlines: list[str]
    date: str
    author: str
    path: str
    site_title: str = ""
    title_html: str | None = None
    h1: str | None = None
    meta_keywords: str | None = None
    meta_description: str | None = None
    head: list[str] = field(default_factory=list)
    head_first: list[str] = field(default_factory=list)
    css: list[str] = field(default_factory=list)
    slots: dict[str, list[str]] = field(default_factory=dict)
    in_article: dict[int, list[str]] = field(default_factory=dict)
    footer_extra: list[str] = field(default_factory=list)
    body_attrs: str = ""
    charset: str = "utf-8"
    charset_decl: str = "meta5"  # meta5 | http-equiv | none | wrong:<name>
    newline: str = "\n"
    minify: bool = False
    template: str = ""
    notes: list[str] = field(default_factory=list)

    def put(self, slot: str, fragment: str) -> None:
        self.slots.setdefault(slot, []).append(fragment)

    def slot(self, name: str) -> str:
        return "\n".join(self.slots.get(name, []))


SLOTS_BODY = ["body_top", "before_article", "after_article", "sidebar", "footer", "body_end"]


def esc(text: str) -> str:
    return html.escape(text, quote=True)


def rid(rng: random.Random, n: int | None = None) -> str:
    n = n or rng.choice([4, 5, 5, 6])
    first = rng.choice(string.ascii_lowercase)
    return first + "".join(rng.choice(string.ascii_lowercase + string.digits) for _ in range(n - 1))


def rand_date(rng: random.Random) -> str:
    y = rng.choice([2022, 2023, 2024, 2024, 2025])
    return f"{y}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}"


# --------------------------------------------------------------------------------------------
# Host page construction
# --------------------------------------------------------------------------------------------


def pick_theme(prose: dict, kind: str, rng: random.Random) -> str:
    if kind in prose:
        return kind
    return rng.choice(list(prose))


def build_host(lang: str, rng: random.Random, site: dict | None = None, theme: str | None = None,
               title: str | None = None, paras: list[str] | None = None) -> Page:
    sites, titles, prose, headlines = BANK[lang]
    site = site or rng.choice(sites)
    theme = theme or pick_theme(prose, site["kind"], rng)
    if title is None:
        tpool = titles.get(theme) or titles[rng.choice(list(titles))]
        title = rng.choice(tpool)
    if paras is None:
        pool = list(prose[theme])
        n = min(len(pool), rng.randint(4, 9))
        paras = rng.sample(pool, n)
        if rng.random() < 0.35:  # borrow a paragraph from another theme, as real CMS pages wander
            other = prose[rng.choice(list(prose))]
            paras.insert(rng.randrange(len(paras) + 1), rng.choice(other))
    section = rng.choice(["news", "xwzx", "info", "article", "content", "n", "tzgg", "html", "p"])
    path = rng.choice([
        f"/{section}/{rng.randint(2019, 2025)}/{rng.randint(1, 12):02d}/{rng.randint(1000, 99999)}.html",
        f"/{section}/{rng.randint(100, 9999)}.htm",
        f"/index.php?m=content&c=index&a=show&catid={rng.randint(1, 40)}&id={rng.randint(100, 9999)}",
        f"/{section}/detail/{rng.randint(10000, 999999)}",
        f"/{rng.randint(2019, 2025)}/{rng.randint(1, 12):02d}/{rng.randint(1, 28):02d}/{section}-{rng.randint(1, 999)}/",
    ])
    p = Page(lang=lang, site=site, title=title, paras=list(paras),
             headlines=rng.sample(headlines, min(len(headlines), rng.randint(5, 10))),
             date=rand_date(rng), author=rng.choice(AUTHORS[lang]), path=path)
    sep = rng.choice(["-", " - ", "_", " | ", "｜" if lang in CJK else " :: ", "--"])
    p.site_title = rng.choice([f"{title}{sep}{site['name']}", f"{site['name']}{sep}{title}", title,
                               f"{title}{sep}{site['name']}"])
    if rng.random() < 0.4:
        p.meta_keywords = ",".join([site["name"], *site["nav"][1:4]])
    if rng.random() < 0.5:
        p.meta_description = paras[0][:80]
    return p


U8 = ("utf-8", "style")
ENCODING_PLANS = {
    "zh-Hans": [U8] * 6 + [("gbk", "meta5"), ("gb2312", "http-equiv"), ("utf-8", "none"), ("gbk", "wrong:utf-8"),
                           ("gbk", "none"), ("gbk", "http-equiv"), ("gb2312", "meta5")],
    "zh-Hant": [U8] * 6 + [("big5", "http-equiv"), ("big5", "meta5"), ("utf-8", "none"), ("big5", "wrong:utf-8")],
    "ja": [U8] * 5 + [("shift_jis", "http-equiv"), ("euc-jp", "meta5"), ("utf-8", "none"), ("shift_jis", "none"),
                      ("shift_jis", "wrong:utf-8"), ("shift_jis", "meta5")],
    "en": [U8] * 8 + [("utf-8", "none"), ("utf-8", "wrong:iso-8859-1")],
}
_encoding_bags: dict[str, list[tuple[str, str]]] = {}


def choose_encoding(p: Page, rng: random.Random) -> None:
    """Draw from a shuffled bag per language, so every encoding case occurs yet none tracks the label."""
    bag = _encoding_bags.setdefault(p.lang, [])
    if not bag:
        bag.extend(ENCODING_PLANS.get(p.lang, [U8] * 9 + [("utf-8", "none")]))
        rng.shuffle(bag)
    p.charset, p.charset_decl = bag.pop()
    if p.charset_decl == "style":
        p.charset_decl = rng.choice(["meta5", "meta5", "http-equiv"])
    if rng.random() < 0.15:
        p.newline = "\r\n"
    if rng.random() < 0.12:
        p.minify = True


# --------------------------------------------------------------------------------------------
# Rendering
# --------------------------------------------------------------------------------------------


def head_html(p: Page, rng: random.Random, xhtml: bool = False) -> str:
    end = " />" if xhtml else ">"
    items: list[str] = []
    declared = p.charset if not p.charset_decl.startswith("wrong:") else p.charset_decl[6:]
    if p.charset_decl == "meta5" or (p.charset_decl.startswith("wrong:") and rng.random() < 0.5):
        items.append(f'<meta charset="{declared}"{end}')
    elif p.charset_decl != "none":
        items.append(f'<meta http-equiv="Content-Type" content="text/html; charset={declared}"{end}')
    items += p.head_first
    if rng.random() < 0.6:
        items.append(f'<meta name="viewport" content="width=device-width, initial-scale=1"{end}')
    if rng.random() < 0.3:
        items.append(f'<meta http-equiv="X-UA-Compatible" content="IE=edge"{end}')
    title_inner = p.title_html if p.title_html is not None else esc(p.site_title)
    title_tag = f"<title>{title_inner}</title>"
    meta = []
    if p.meta_keywords is not None:
        meta.append(f'<meta name="keywords" content="{esc(p.meta_keywords)}"{end}')
    if p.meta_description is not None:
        meta.append(f'<meta name="description" content="{esc(p.meta_description)}"{end}')
    if rng.random() < 0.5:
        items += [title_tag, *meta]
    else:
        items += [*meta, title_tag]
    if rng.random() < 0.5:
        items.append(f'<link rel="canonical" href="https://{p.site["domain"]}{esc(p.path)}"{end}')
    if rng.random() < 0.3:
        items.append(f'<link rel="shortcut icon" href="/favicon.ico"{end}')
    for _ in range(rng.randint(1, 3)):
        items.append(f'<link rel="stylesheet" type="text/css" href="/{rng.choice(["css", "static/css", "skin", "templets/default/css"])}/{rng.choice(["style", "main", "common", "index", "base", "layout"])}.css?v={rng.randint(1, 999)}"{end}')
    if rng.random() < 0.4:
        items.append(f'<script src="/{rng.choice(["js", "static/js"])}/jquery-{rng.choice(["1.8.3", "1.12.4", "3.6.0"])}.min.js"></script>')
    if p.css:
        items.append("<style type=\"text/css\">\n" + "\n".join(p.css) + "\n</style>")
    for frag in p.head:
        items.insert(rng.randint(1, len(items)), frag)
    return "<head>\n" + "\n".join(items) + "\n</head>"


def article_html(p: Page, rng: random.Random, para_tag: str = "p", sloppy: bool = False) -> str:
    out = []
    for i, para in enumerate(p.paras):
        if sloppy and rng.random() < 0.3:
            out.append(f"<{para_tag}>{esc(para)}")
        elif rng.random() < 0.15 and para_tag == "p":
            out.append(f'<p style="text-indent:2em">{esc(para)}</p>')
        else:
            out.append(f"<{para_tag}>{esc(para)}</{para_tag}>")
        out += p.in_article.get(i, [])
    out += p.in_article.get(-1, [])
    return "\n".join(out)


def nav_html(p: Page, rng: random.Random, cls: str, sub: bool = False) -> str:
    items = []
    for i, name in enumerate(p.site["nav"]):
        href = "/" if i == 0 else f"/{rng.choice(['col', 'channel', 'list', 'c'])}{i}/"
        if sub and i > 0 and rng.random() < 0.6:
            subs = "".join(f'<li><a href="{href}{j}.html">{esc(h[:8])}</a></li>'
                           for j, h in enumerate(rng.sample(p.headlines, min(3, len(p.headlines)))))
            items.append(f'<li class="dropdown"><a href="{href}">{esc(name)}</a><ul class="submenu">{subs}</ul></li>')
        else:
            items.append(f'<li><a href="{href}">{esc(name)}</a></li>')
    return f'<ul class="{cls}">' + "".join(items) + "</ul>"


def headline_list(p: Page, rng: random.Random, cls: str = "list") -> str:
    lis = []
    for h in p.headlines:
        lis.append(f'<li><a href="/{rng.choice(["news", "info", "html"])}/{rng.randint(1000, 99999)}.html" title="{esc(h)}">{esc(h)}</a><span>{rand_date(rng)[5:]}</span></li>')
    return f'<ul class="{cls}">' + "\n".join(lis) + "</ul>"


def footer_lines(p: Page, rng: random.Random, joiner: str) -> str:
    return joiner.join(esc(x) for x in p.site["footer"])


def tpl_gov_table(p: Page, rng: random.Random) -> str:
    u = UI[p.lang]
    nav = " | ".join(f'<a href="/col{i}/">{esc(n)}</a>' for i, n in enumerate(p.site["nav"]))
    side = headline_list(p, rng, "left_list")
    return f"""<!DOCTYPE html PUBLIC "-//W3C//DTD XHTML 1.0 Transitional//EN" "http://www.w3.org/TR/xhtml1/DTD/xhtml1-transitional.dtd">
<html xmlns="http://www.w3.org/1999/xhtml">
{head_html(p, rng, xhtml=True)}
<body{p.body_attrs}>
{p.slot("body_top")}
<table width="1000" border="0" align="center" cellpadding="0" cellspacing="0">
  <tr><td height="118" background="/images/top_bg.jpg"><img src="/images/logo.png" alt="{esc(p.site["name"])}" width="520" height="80" /></td></tr>
  <tr><td class="nav" height="36">{nav}</td></tr>
</table>
<table width="1000" border="0" align="center" cellpadding="0" cellspacing="0" class="main">
  <tr>
    <td width="240" valign="top" class="left"><div class="lm_title">{u["latest"]}</div>{side}{p.slot("sidebar")}</td>
    <td width="20"></td>
    <td valign="top">
      <div class="position">{u["pos"]}：<a href="/">{u["home"]}</a> &gt; <a href="/col1/">{esc(p.site["nav"][1])}</a> &gt; {u["notice"]}</div>
      {p.slot("before_article")}
      <h1 class="art_title">{esc(p.h1 or p.title)}</h1>
      <div class="art_info">{u["date"]}：{p.date} &nbsp; {u["src"]}：{esc(p.author)} &nbsp; {u["views"]}：<span id="hits">{rng.randint(20, 9000)}</span></div>
      <div id="zoom" class="art_con">
{article_html(p, rng, sloppy=True)}
      </div>
      {p.slot("after_article")}
      <div class="art_btn"><a href="javascript:window.print()">[{u["print"]}]</a> <a href="javascript:window.close()">[{u["close"]}]</a></div>
    </td>
  </tr>
</table>
<table width="1000" border="0" align="center" class="foot"><tr><td align="center">
{footer_lines(p, rng, "<br />")}
{p.slot("footer")}
</td></tr></table>
{p.slot("body_end")}
</body>
</html>"""


def tpl_portal(p: Page, rng: random.Random) -> str:
    u = UI[p.lang]
    wrap = rng.choice(["wrapper", "container", "w1200", "main-wrap", "page"])
    return f"""<!DOCTYPE html>
<html lang="{p.lang}">
{head_html(p, rng)}
<body{p.body_attrs}>
{p.slot("body_top")}
<div id="header" class="{rng.choice(["header", "top", "head"])}">
  <div class="{wrap}"><a class="logo" href="/"><img src="/static/img/logo.png" alt="{esc(p.site["name"])}"></a>
  <form class="search" action="/search/" method="get"><input type="text" name="q" placeholder="{u["search"]}"><button>{u["search"]}</button></form></div>
</div>
<div id="nav">{nav_html(p, rng, rng.choice(["nav", "menu", "mainnav", "topmenu"]), sub=rng.random() < 0.5)}</div>
<div class="{wrap} clearfix">
  <div class="crumb">{u["pos"]}：<a href="/">{u["home"]}</a> &raquo; <a href="/col2/">{esc(p.site["nav"][2])}</a></div>
  <div class="left-content" id="content">
    {p.slot("before_article")}
    <div class="article">
      <h2 class="article-title">{esc(p.h1 or p.title)}</h2>
      <p class="article-meta">{u["date"]}：{p.date}　{u["author"]}：{esc(p.author)}</p>
      <div class="article-body">
{article_html(p, rng)}
      </div>
      {p.slot("after_article")}
      <div class="pager"><p>{u["prev"]}：<a href="/info/{rng.randint(100, 999)}.html">{esc(p.headlines[0])}</a></p><p>{u["next"]}：<a href="/info/{rng.randint(100, 999)}.html">{esc(p.headlines[-1])}</a></p></div>
    </div>
  </div>
  <div class="right-side">
    <div class="box"><h3>{u["latest"]}</h3>{headline_list(p, rng)}</div>
    {p.slot("sidebar")}
  </div>
</div>
<div id="footer" class="footer">
  <div class="{wrap}">
    <p>{footer_lines(p, rng, "</p><p>")}</p>
    {p.slot("footer")}
  </div>
</div>
{p.slot("body_end")}
</body>
</html>"""


def tpl_html5_news(p: Page, rng: random.Random) -> str:
    u = UI[p.lang]
    ld = json.dumps({"@context": "https://schema.org", "@type": "NewsArticle", "headline": p.title,
                     "datePublished": p.date, "author": {"@type": "Person", "name": p.author},
                     "publisher": {"@type": "Organization", "name": p.site["name"]}}, ensure_ascii=False)
    p.head.append(f'<meta property="og:title" content="{esc(p.title)}">')
    p.head.append('<meta property="og:type" content="article">')
    p.head.append(f'<script type="application/ld+json">{ld}</script>')
    nav = "".join(f'<a href="/{re.sub(r"[^a-z]", "", n.lower()) or "s" + str(i)}/">{esc(n)}</a>' for i, n in enumerate(p.site["nav"]))
    related = "".join(f'<li><a href="/{p.date[:4]}/{rng.randint(1, 12):02d}/{rng.randint(1, 28):02d}/story-{rng.randint(100, 999)}/">{esc(h)}</a></li>' for h in p.headlines[:5])
    return f"""<!doctype html>
<html lang="{p.lang}" class="no-js">
{head_html(p, rng)}
<body class="article-page"{p.body_attrs}>
{p.slot("body_top")}
<header class="site-header">
  <div class="masthead"><a href="/" class="brand">{esc(p.site["name"])}</a><time datetime="{p.date}">{p.date}</time></div>
  <nav class="primary-nav" aria-label="Primary">{nav}</nav>
</header>
<main id="main">
  {p.slot("before_article")}
  <article class="story">
    <header><p class="kicker">{esc(p.site["nav"][1])}</p><h1>{esc(p.h1 or p.title)}</h1>
    <p class="byline">{u["author"]} <span class="author">{esc(p.author)}</span> · <time datetime="{p.date}T0{rng.randint(6, 9)}:{rng.randint(10, 59)}:00">{p.date}</time></p></header>
    <figure class="lead"><img src="/img/{p.date.replace("-", "")}/{rng.randint(1000, 9999)}.jpg" alt="" loading="lazy"><figcaption>{esc(p.headlines[1])}</figcaption></figure>
    <div class="story-body">
{article_html(p, rng)}
    </div>
    {p.slot("after_article")}
    <div class="share">{u["share"]}: <a href="https://www.facebook.com/sharer/sharer.php?u=https://{p.site["domain"]}{esc(p.path)}">Facebook</a> <a href="https://twitter.com/intent/tweet?url=https://{p.site["domain"]}{esc(p.path)}">X</a></div>
  </article>
  <aside class="related"><h2>{u["related"]}</h2><ul>{related}</ul>{p.slot("sidebar")}</aside>
</main>
<footer class="site-footer">
  <p>{footer_lines(p, rng, " · ")}</p>
  {p.slot("footer")}
</footer>
{p.slot("body_end")}
</body>
</html>"""


def tpl_wp(p: Page, rng: random.Random) -> str:
    u = UI[p.lang]
    pid = rng.randint(120, 9800)
    theme = rng.choice(["twentytwenty", "astra", "generatepress", "hemingway", "newspaper", "flatsome"])
    p.head.append(f"<link rel='stylesheet' id='{theme}-style-css' href='https://{p.site['domain']}/wp-content/themes/{theme}/style.css?ver=6.{rng.randint(1, 6)}' media='all' />")
    p.head.append(f'<link rel="alternate" type="application/rss+xml" title="{esc(p.site["name"])} &raquo; Feed" href="https://{p.site["domain"]}/feed/" />')
    recent = "".join(f'<li><a href="https://{p.site["domain"]}/{rng.randint(2020, 2024)}/{rng.randint(1, 12):02d}/{re.sub(r"[^a-z0-9]+", "-", h.lower()).strip("-") or rng.randint(1, 999)}/">{esc(h)}</a></li>' for h in p.headlines[:5])
    comments = "".join(f'<li class="comment" id="comment-{rng.randint(100, 9999)}"><div class="comment-author vcard"><b class="fn">{esc(rng.choice(AUTHORS[p.lang]))}</b></div><div class="comment-content"><p>{esc(rng.choice(p.paras)[:60])}</p></div></li>' for _ in range(rng.randint(0, 3)))
    return f"""<!DOCTYPE html>
<html lang="{p.lang}">
{head_html(p, rng)}
<body class="post-template-default single single-post postid-{pid} single-format-standard"{p.body_attrs}>
{p.slot("body_top")}
<div id="page" class="site">
<a class="skip-link screen-reader-text" href="#content">{u["skip"]}</a>
<header id="masthead" class="site-header"><div class="site-branding"><p class="site-title"><a href="https://{p.site["domain"]}/" rel="home">{esc(p.site["name"])}</a></p></div>
<nav id="site-navigation" class="main-navigation">{nav_html(p, rng, "menu", sub=rng.random() < 0.4)}</nav></header>
<div id="content" class="site-content">
<div id="primary" class="content-area"><main id="main" class="site-main">
{p.slot("before_article")}
<article id="post-{pid}" class="post-{pid} post type-post status-publish format-standard hentry category-uncategorized">
<header class="entry-header"><h1 class="entry-title">{esc(p.h1 or p.title)}</h1>
<div class="entry-meta"><span class="posted-on"><time class="entry-date published" datetime="{p.date}T10:00:00+00:00">{p.date}</time></span> <span class="byline">{esc(p.author)}</span></div></header>
<div class="entry-content">
{article_html(p, rng)}
</div>
{p.slot("after_article")}
</article>
<div id="comments" class="comments-area"><ol class="comment-list">{comments}</ol></div>
</main></div>
<aside id="secondary" class="widget-area"><section class="widget widget_recent_entries"><h2 class="widget-title">{u["latest"]}</h2><ul>{recent}</ul></section>{p.slot("sidebar")}</aside>
</div>
<footer id="colophon" class="site-footer"><div class="site-info">{footer_lines(p, rng, " | ")}</div>{p.slot("footer")}</footer>
</div>
{p.slot("body_end")}
<script src='https://{p.site["domain"]}/wp-includes/js/wp-embed.min.js?ver=6.4.{rng.randint(1, 5)}' id='wp-embed-js'></script>
</body>
</html>"""


def tpl_bootstrap(p: Page, rng: random.Random) -> str:
    u = UI[p.lang]
    links = "".join(f'<li class="nav-item"><a class="nav-link" href="/{i}/">{esc(n)}</a></li>' for i, n in enumerate(p.site["nav"]))
    cards = "".join(f'<div class="col-md-4"><div class="card mb-3"><div class="card-body"><h5 class="card-title"><a href="/news/{rng.randint(100, 9999)}">{esc(h)}</a></h5><p class="card-text text-muted small">{rand_date(rng)}</p></div></div></div>' for h in p.headlines[:3])
    return f"""<!DOCTYPE html>
<html lang="{p.lang}">
{head_html(p, rng)}
<body{p.body_attrs}>
{p.slot("body_top")}
<nav class="navbar navbar-expand-lg navbar-light bg-light">
  <div class="container"><a class="navbar-brand" href="/">{esc(p.site["name"])}</a>
    <button class="navbar-toggler" type="button" data-bs-toggle="collapse" data-bs-target="#nav-main"><span class="navbar-toggler-icon"></span></button>
    <div class="collapse navbar-collapse" id="nav-main"><ul class="navbar-nav ms-auto">{links}</ul></div>
  </div>
</nav>
<div class="container my-4">
  {p.slot("before_article")}
  <div class="row">
    <div class="col-lg-8">
      <h1 class="h2 mb-2">{esc(p.h1 or p.title)}</h1>
      <p class="text-muted small">{u["date"]} {p.date} &middot; {esc(p.author)}</p>
{article_html(p, rng)}
      {p.slot("after_article")}
    </div>
    <div class="col-lg-4"><div class="list-group">{"".join(f'<a class="list-group-item list-group-item-action" href="/n/{rng.randint(10, 999)}">{esc(h)}</a>' for h in p.headlines[3:8])}</div>{p.slot("sidebar")}</div>
  </div>
  <div class="row mt-4">{cards}</div>
</div>
<footer class="bg-dark text-light py-4"><div class="container"><div class="row"><div class="col-md-6">{footer_lines(p, rng, "<br>")}</div><div class="col-md-6 text-end">{p.slot("footer")}</div></div></div></footer>
{p.slot("body_end")}
<script src="/assets/js/bootstrap.bundle.min.js"></script>
</body>
</html>"""


def tpl_sloppy(p: Page, rng: random.Random) -> str:
    u = UI[p.lang]
    nav = "&nbsp;|&nbsp;".join(f'<A href="/{i}.asp">{esc(n)}</A>' for i, n in enumerate(p.site["nav"]))
    font = rng.choice(["宋体", "Arial", "MS PGothic", "Tahoma", "Verdana"])
    return f"""<HTML>
{head_html(p, rng).replace("<head>", "<HEAD>").replace("</head>", "</HEAD>")}
<BODY leftmargin=0 topmargin=0 bgcolor=#ffffff{p.body_attrs}>
{p.slot("body_top")}
<center>
<TABLE width=960 border=0 cellpadding=0 cellspacing=0>
<TR><TD><IMG src="images/banner.jpg" width=960 height=100></TD></TR>
<TR><TD bgcolor=#0055aa height=28><font color=white>{nav}</font></TD></TR>
</TABLE>
<TABLE width=960 border=0>
<TR><TD width=700 valign=top>
{p.slot("before_article")}
<font face="{font}" size=4><b>{esc(p.h1 or p.title)}</b></font><br>
<font size=2 color=#666666>{u["date"]}:{p.date} {esc(p.author)}</font>
<hr size=1>
<font face="{font}" size=2>
{article_html(p, rng, sloppy=True)}
</font>
{p.slot("after_article")}
<TD width=260 valign=top bgcolor=#f5f5f5>
<b>{u["latest"]}</b>
{headline_list(p, rng, "side")}
{p.slot("sidebar")}
</TD></TR>
</TABLE>
<div id="footer"><hr size=1>{footer_lines(p, rng, "<br>")}
{p.slot("footer")}
</center>
{p.slot("body_end")}
</BODY>
</HTML>"""


def tpl_listing(p: Page, rng: random.Random) -> str:
    """A channel/list page: short intro plus a dated list, as many crawled URLs are."""
    u = UI[p.lang]
    rows = "".join(f'<li><span class="date">{rand_date(rng)}</span><a href="/list/{rng.randint(1000, 99999)}.jhtml" target="_blank">{esc(h)}</a></li>\n' for h in p.headlines + p.headlines[:3])
    pages = "".join(f'<a href="?page={i}">{i}</a>' for i in range(1, rng.randint(4, 12)))
    return f"""<!DOCTYPE html>
<html>
{head_html(p, rng)}
<body{p.body_attrs}>
{p.slot("body_top")}
<div class="topbar"><div class="inner"><span>{p.date}</span> <a href="/en/">English</a> <a href="/sitemap.html">Sitemap</a></div></div>
<div class="banner"><h1 class="sitename">{esc(p.site["name"])}</h1></div>
<div class="menu">{nav_html(p, rng, "menu-list", sub=rng.random() < 0.3)}</div>
<div class="main">
<div class="sidebar"><h3>{esc(p.site["nav"][1])}</h3><ul>{"".join(f'<li><a href="/c/{i}/">{esc(n)}</a></li>' for i, n in enumerate(p.site["nav"][1:]))}</ul>{p.slot("sidebar")}</div>
<div class="content">
{p.slot("before_article")}
<div class="intro"><h2>{esc(p.h1 or p.title)}</h2>
{article_html(p, rng)}
</div>
{p.slot("after_article")}
<div class="newslist"><h3>{u["notice"]}</h3><ul>
{rows}</ul></div>
<div class="pagination">{pages}</div>
</div>
</div>
<div class="footer">{footer_lines(p, rng, "<br/>")}{p.slot("footer")}</div>
{p.slot("body_end")}
</body>
</html>"""


TEMPLATES: dict[str, Callable[[Page, random.Random], str]] = {
    "gov_table": tpl_gov_table, "portal": tpl_portal, "html5_news": tpl_html5_news, "wp": tpl_wp,
    "bootstrap": tpl_bootstrap, "sloppy": tpl_sloppy, "listing": tpl_listing,
}
TEMPLATE_BY_KIND = {
    "gov": ["gov_table", "portal", "listing", "sloppy", "bootstrap"],
    "edu": ["portal", "bootstrap", "listing", "wp", "gov_table"],
    "news": ["html5_news", "portal", "bootstrap", "wp"],
    "health": ["portal", "bootstrap", "gov_table", "listing", "sloppy"],
    "biz": ["bootstrap", "portal", "wp", "sloppy"],
    "school": ["portal", "sloppy", "wp", "listing"],
    "ngo": ["wp", "bootstrap", "html5_news"],
    "blog": ["wp", "html5_news", "sloppy"],
}


def render(p: Page, rng: random.Random) -> bytes:
    tpl = p.template or rng.choice(TEMPLATE_BY_KIND.get(p.site["kind"], list(TEMPLATES)))
    p.template = tpl
    doc = TEMPLATES[tpl](p, rng)
    doc = p.slot("before_doctype") + ("\n" if p.slots.get("before_doctype") else "") + doc
    if p.slots.get("after_html"):
        doc += "\n" + p.slot("after_html")
    doc = re.sub(r"\n\s*\n+", "\n", doc)
    if p.minify:
        doc = re.sub(r">\s+<", "><", doc).replace("\n", "")
    else:
        doc += "\n"
    if p.newline != "\n":
        doc = doc.replace("\n", p.newline)
    codec = p.charset  # strict codecs: libxml2 rejects GBK-only bytes under a gb2312 label
    return doc.encode(codec, errors="xmlcharrefreplace")


# --------------------------------------------------------------------------------------------
# Benign features: present on clean AND hijacked hosts so they cannot serve as a label proxy
# --------------------------------------------------------------------------------------------


def feat_analytics(p: Page, rng: random.Random) -> str:
    kind = rng.choice(["baidu", "gtag", "cnzz", "own"] if p.lang.startswith("zh") else ["gtag", "gtag", "own", "matomo"])
    h = "".join(rng.choice("0123456789abcdef") for _ in range(32))
    if kind == "baidu":
        frag = ('<script>\nvar _hmt = _hmt || [];\n(function() {\n  var hm = document.createElement("script");\n'
                f'  hm.src = "https://hm.baidu.com/hm.js?{h}";\n  var s = document.getElementsByTagName("script")[0];\n'
                '  s.parentNode.insertBefore(hm, s);\n})();\n</script>')
    elif kind == "gtag":
        gid = "G-" + "".join(rng.choice(string.ascii_uppercase + string.digits) for _ in range(10))
        frag = (f'<script async src="https://www.googletagmanager.com/gtag/js?id={gid}"></script>\n<script>\n'
                "  window.dataLayer = window.dataLayer || [];\n  function gtag(){dataLayer.push(arguments);}\n"
                f"  gtag('js', new Date());\n  gtag('config', '{gid}');\n</script>")
    elif kind == "cnzz":
        n = rng.randint(1000000000, 1999999999)
        frag = (f'<script type="text/javascript">document.write(unescape("%3Cspan id=\'cnzz_stat_icon_{n}\'%3E%3C/span%3E'
                f'%3Cscript src=\'https://s4.cnzz.com/z_stat.php%3Fid%3D{n}%26show%3Dpic\' type=\'text/javascript\'%3E%3C/script%3E"));</script>')
    elif kind == "matomo":
        frag = ('<script>var _paq = window._paq = window._paq || [];_paq.push(["trackPageView"]);_paq.push(["enableLinkTracking"]);'
                f'(function(){{var u="https://stats.{p.site["domain"]}/";_paq.push(["setTrackerUrl", u+"matomo.php"]);_paq.push(["setSiteId", "{rng.randint(1, 40)}"]);'
                'var d=document, g=d.createElement("script"), s=d.getElementsByTagName("script")[0];g.async=true; g.src=u+"matomo.js"; s.parentNode.insertBefore(g,s);})();</script>')
    else:
        frag = ('<script>(function(){var r=document.referrer||"";var img=new Image();'
                'img.src="/stat/count.php?ref="+encodeURIComponent(r)+"&page="+encodeURIComponent(location.pathname)+"&t="+(+new Date());'
                'if(/baidu\\.com|google\\.|sogou\\.com|so\\.com|bing\\.com/i.test(r)){img.src+="&se=1";}})();</script>')
    where = rng.choice(["head", "body_end", "footer"])
    if where == "head":
        p.head.append(frag)
    else:
        p.put(where, frag)
    return f"analytics:{kind}"


def feat_cookie(p: Page, rng: random.Random) -> str:
    u = UI[p.lang]
    cid = rng.choice(["cookie-banner", "cookieNotice", "gdpr-consent", "cc-window"])
    p.css.append(f"#{cid}{{position:fixed;bottom:0;left:0;right:0;background:#222;color:#fff;padding:12px;z-index:9999;display:none}}")
    p.put("body_end", f'<div id="{cid}" role="dialog" aria-live="polite">{u["cookie"]} <a href="/privacy/" style="color:#9cf">Privacy</a> <button type="button" onclick="document.getElementById(\'{cid}\').style.display=\'none\';localStorage.setItem(\'ck\',1)">{u["accept"]}</button></div>'
          f'<script>if(!localStorage.getItem("ck")){{document.getElementById("{cid}").style.display="block";}}</script>')
    return "cookie-banner"


def feat_megamenu(p: Page, rng: random.Random) -> str:
    cols = []
    for i, n in enumerate(p.site["nav"][1:5]):
        links = "".join(f'<li><a href="/col{i + 1}/{j}.html">{esc(h[:14])}</a></li>' for j, h in enumerate(rng.sample(p.headlines, min(4, len(p.headlines)))))
        cols.append(f'<div class="mega-col"><h4>{esc(n)}</h4><ul>{links}</ul></div>')
    p.css.append(".mega-menu{display:none;position:absolute;left:0;right:0;background:#fff}.nav-item:hover .mega-menu{display:block}")
    p.put("body_top", f'<div class="nav-item"><a href="/all/">{esc(p.site["nav"][0])}</a><div class="mega-menu">{"".join(cols)}</div></div>')
    return "mega-menu"


def feat_tabs(p: Page, rng: random.Random) -> str:
    u = UI[p.lang]
    names = rng.sample(p.site["nav"][1:], min(3, len(p.site["nav"]) - 1))
    heads = "".join(f'<li class="{"active" if i == 0 else ""}" onmouseover="tab({i})">{esc(n)}</li>' for i, n in enumerate(names))
    bodies = []
    for i in range(len(names)):
        sample = rng.sample(p.headlines, min(4, len(p.headlines)))
        lis = "".join(f'<li><a href="/t{i}/{k}.html">{esc(h)}</a></li>' for k, h in enumerate(sample))
        style = "" if i == 0 else "display:none"
        bodies.append(f'<div class="tab-pane" id="tab{i}" style="{style}"><ul>{lis}</ul>'
                      f'<a class="more" href="/t{i}/">{u["more"]}</a></div>')
    p.put("sidebar", f'<div class="tabs"><ul class="tab-head">{heads}</ul>{"".join(bodies)}</div><script>function tab(n){{for(var i=0;i<{len(names)};i++){{document.getElementById("tab"+i).style.display=(i==n)?"block":"none";}}}}</script>')
    return "tabs"


def feat_modal(p: Page, rng: random.Random) -> str:
    u = UI[p.lang]
    p.put("body_end", f'<div class="modal fade" id="loginModal" tabindex="-1" aria-hidden="true" style="display:none"><div class="modal-dialog"><div class="modal-content"><form action="/login" method="post"><input name="user"><input type="password" name="pw"><button>OK</button></form><a href="/register/">{u["more"]}</a><button class="close" data-dismiss="modal">{u["close"]}</button></div></div></div>')
    return "modal"


def feat_accordion_sponsors(p: Page, rng: random.Random) -> str:
    sponsors = rng.sample([("Acme Printing", "https://www.acmeprinting.example.com/"), ("Riverside Credit Union", "https://www.riversidecu.example.org/"),
                           ("Hilltop Hardware", "https://hilltophardware.example.net/"), ("Northside Dental", "https://northsidedental.example.com/"),
                           ("Bluebird Cafe", "https://bluebirdcafe.example.com/"), ("Metro Bank", "https://www.metrobank.example/")], 3)
    links = "".join(f'<li><a href="{u}" rel="sponsored noopener" target="_blank">{esc(n)}</a></li>' for n, u in sponsors)
    p.put("sidebar", f'<details class="accordion"><summary>Sponsors / 赞助 / Sponsor</summary><ul>{links}</ul></details>'
          if rng.random() < 0.5 else
          f'<div class="accordion"><button class="acc-toggle" aria-expanded="false" onclick="this.nextElementSibling.hidden=!this.nextElementSibling.hidden">Partners</button><div class="acc-panel" hidden><ul>{links}</ul></div></div>')
    return "accordion-sponsors"


def feat_sr_only(p: Page, rng: random.Random) -> str:
    cls = rng.choice(["sr-only", "visually-hidden", "screen-reader-text", "element-invisible"])
    p.css.append(f".{cls}{{position:absolute!important;width:1px;height:1px;padding:0;margin:-1px;overflow:hidden;clip:rect(0,0,0,0);white-space:nowrap;border:0}}")
    p.put("body_top", f'<a class="{cls}" href="#main">{UI[p.lang]["skip"]}</a>')
    if rng.random() < 0.5:
        p.put("after_article", f'<h2 class="{cls}">{UI[p.lang]["related"]}</h2>')
    return "sr-only"


def feat_template_noscript(p: Page, rng: random.Random) -> str:
    n = rng.randint(100000, 999999)
    p.put("body_top", f'<noscript><img height="1" width="1" style="display:none" src="https://www.facebook.com/tr?id={n}&amp;ev=PageView&amp;noscript=1" alt=""></noscript>')
    if rng.random() < 0.6:
        p.put("body_end", '<template id="row-tpl"><li class="item"><a class="item-link" href=""></a><span class="item-date"></span></li></template>')
    if rng.random() < 0.4:
        p.put("body_top", f'<noscript><iframe src="https://www.googletagmanager.com/ns.html?id=GTM-{rid(rng, 6).upper()}" height="0" width="0" style="display:none;visibility:hidden"></iframe></noscript>')
    return "noscript-pixel"


def feat_friend_links(p: Page, rng: random.Random) -> str:
    links = FRIEND_LINKS[p.lang]
    chosen = rng.sample(links, min(len(links), rng.randint(3, 6)))
    if rng.random() < 0.5:
        opts = "".join(f'<option value="{u}">{esc(n)}</option>' for n, u in chosen)
        frag = f'<div class="yqlj"><select onchange="if(this.value)window.open(this.value)"><option value="">{UI[p.lang]["links"]}</option>{opts}</select></div>'
    else:
        frag = f'<div class="links"><span>{UI[p.lang]["links"]}：</span>' + " ".join(f'<a href="{u}" target="_blank">{esc(n)}</a>' for n, u in chosen) + "</div>"
    p.put("footer", frag)
    return "friend-links"


def feat_dup_ids(p: Page, rng: random.Random) -> str:
    i = rng.choice(["news", "box", "item", "list", "more"])
    p.put("sidebar", "".join(f'<div id="{i}" class="box"><a href="/more/{k}.html">{esc(h[:12])}</a></div>' for k, h in enumerate(p.headlines[:3])))
    return "duplicate-ids"


def feat_hidden_same_site(p: Page, rng: random.Random) -> str:
    links = "".join(f'<li><a href="/{rng.choice(["archive", "old", "col9"])}/{k}.html">{esc(h)}</a></li>' for k, h in enumerate(p.headlines[:5]))
    p.put(rng.choice(["sidebar", "after_article", "footer"]), f'<div class="more-list" style="display:none" id="more{rng.randint(1, 9)}"><ul>{links}</ul></div><a href="javascript:void(0)" onclick="var m=this.previousSibling;m.style.display=m.style.display==\'none\'?\'block\':\'none\'">{UI[p.lang]["more"]}</a>')
    return "hidden-same-site"


def feat_share(p: Page, rng: random.Random) -> str:
    p.put("after_article", f'<div class="bdsharebuttonbox"><a href="#" class="bds_weixin" data-cmd="weixin"></a><a href="#" class="bds_tsina" data-cmd="tsina"></a><a href="https://social-plugins.line.me/lineit/share?url=https://{p.site["domain"]}/" class="line">LINE</a></div>')
    return "share"


def feat_map_video(p: Page, rng: random.Random) -> str:
    choice = rng.choice(["map", "youtube", "bilibili", "vimeo"])
    if choice == "map":
        frag = f'<iframe src="https://www.google.com/maps/embed?pb=!1m18!1m12!1m3!1d{rng.randint(1000, 9999)}.{rng.randint(10, 99)}!2d{rng.uniform(100, 120):.4f}!3d{rng.uniform(10, 40):.4f}" width="600" height="450" style="border:0;" allowfullscreen="" loading="lazy" referrerpolicy="no-referrer-when-downgrade"></iframe>'
    elif choice == "youtube":
        frag = f'<iframe width="560" height="315" src="https://www.youtube-nocookie.com/embed/{rid(rng, 11)}" title="Video" frameborder="0" allow="accelerometer; autoplay; clipboard-write; encrypted-media; gyroscope; picture-in-picture" allowfullscreen></iframe>'
    elif choice == "bilibili":
        frag = f'<iframe src="//player.bilibili.com/player.html?bvid=BV1{rid(rng, 9)}&page=1" scrolling="no" border="0" frameborder="no" framespacing="0" allowfullscreen="true" width="100%" height="480"></iframe>'
    else:
        frag = f'<div style="padding:56.25% 0 0 0;position:relative;"><iframe src="https://player.vimeo.com/video/{rng.randint(10**8, 10**9)}" style="position:absolute;top:0;left:0;width:100%;height:100%;" frameborder="0" allow="autoplay; fullscreen" allowfullscreen></iframe></div>'
    p.in_article.setdefault(rng.randrange(len(p.paras)), []).append(frag)
    return f"iframe:{choice}"


def feat_lang_redirect(p: Page, rng: random.Random) -> str:
    """Legitimate same-site redirects (clean pages only)."""
    v = rng.choice(["meta-en", "mobile-js", "lang-js", "meta-same", "auto-refresh"])
    if v == "meta-en":
        p.head.append(f'<meta http-equiv="refresh" content="{rng.choice([0, 0, 3, 5])};url=/en/">')
    elif v == "mobile-js":
        p.head.append('<script>if(/Android|iPhone|iPad|Mobile/i.test(navigator.userAgent)){window.location.href="https://m.'
                      + p.site["domain"].removeprefix("www.") + '"+location.pathname;}</script>')
    elif v == "lang-js":
        p.head.append("<script>(function(){var l=(navigator.language||'').toLowerCase();if(l.indexOf('en')===0&&location.pathname.indexOf('/en/')<0&&!sessionStorage.getItem('langchosen')){location.replace('/en'+location.pathname);}})();</script>")
    elif v == "meta-same":
        p.head.append(f'<meta http-equiv="refresh" content="0; URL=https://{p.site["domain"]}/new{p.path}">')
    else:
        p.head.append(f'<meta http-equiv="refresh" content="{rng.choice([60, 300, 600])}">')
    return f"same-site-redirect:{v}"


def feat_marquee(p: Page, rng: random.Random) -> str:
    """Old portals scroll their notices in a visible marquee."""
    items = "".join(f'<p><a href="/tzgg/{rng.randint(100, 999)}.html">{esc(h)}</a></p>' for h in p.headlines[:5])
    p.put("sidebar", f'<div class="notice"><h3>{UI[p.lang]["notice"]}</h3><marquee direction="up" scrollamount="2" height="{rng.choice([160, 180, 220])}" width="100%" onmouseover="this.stop()" onmouseout="this.start()">{items}</marquee></div>')
    return "marquee-notices"


def feat_logo_indent(p: Page, rng: random.Random) -> str:
    """Image replacement: the site name is pushed off-screen behind a logo background."""
    style = rng.choice(["text-indent:-9999px;overflow:hidden;background:url(/images/logo.png) no-repeat;width:300px;height:60px",
                        "text-indent:-999em;display:block;width:260px;height:70px;background:url(/static/logo.svg)"])
    p.put("body_top", f'<h1 class="logo" style="{style}"><a href="/">{esc(p.site["name"])}</a></h1>')
    return "logo-text-indent"


def feat_email_obfuscation(p: Page, rng: random.Random) -> str:
    """Contact addresses hidden from harvesters with the same tricks spam uses."""
    user = rng.choice(["info", "office", "webmaster", "contact", "humas"])
    addr = f"{user}@{p.site['domain'].removeprefix('www.')}"
    v = rng.choice(["fromcharcode", "atob", "cf"])
    if v == "fromcharcode":
        frag = "<script>document.write('<a href=\"mailto:'+String.fromCharCode(" + ",".join(str(ord(c)) for c in addr) + ")+'\">'+String.fromCharCode(" + ",".join(str(ord(c)) for c in addr) + ")+'</a>');</script>"
    elif v == "atob":
        b = base64.b64encode(addr.encode()).decode()
        frag = f'<span id="em{rng.randint(1, 99)}"></span><script>(function(){{var a=atob("{b}");document.write("<a href=\'mailto:"+a+"\'>"+a+"</a>");}})();</script>'
    else:
        key = rng.randint(1, 255)
        enc = f"{key:02x}" + "".join(f"{ord(c) ^ key:02x}" for c in addr)
        frag = f'<a href="/cdn-cgi/l/email-protection#{enc}"><span class="__cf_email__" data-cfemail="{enc}">[email&#160;protected]</span></a>'
    p.put("footer", frag)
    return f"email-obfuscation:{v}"


def feat_spacers(p: Page, rng: random.Random) -> str:
    """CMS leftovers: empty clearfix divs, nbsp paragraphs and repeated empty ids."""
    bits = ['<div class="clear"></div>', "<p>&nbsp;</p>", '<div style="clear:both"></div>', "<br />",
            '<span id="hits"></span>', '<div class="blank10"></div>', '<p id="zoom"></p>', '<td></td>']
    for _ in range(rng.randint(2, 5)):
        run = "".join(rng.choice(bits) for _ in range(rng.randint(1, 4)))
        p.put(rng.choice(["before_article", "after_article", "footer", "sidebar"]), run)
    return "empty-spacers"


def feat_hashed_classes(p: Page, rng: random.Random) -> str:
    """Framework-generated short random class/id names (CSS modules, styled-components)."""
    ids = [rid(rng, rng.choice([5, 6, 7])) for _ in range(4)]
    p.put("body_top", f'<div id="__next" data-reactroot=""><div class="css-{ids[0]} e{ids[1]}0"><span class="sc-{ids[2]}"></span><span class="sc-{ids[2]}"></span></div></div>')
    p.put("footer", f'<div class="css-{ids[3]}"><div class="css-{ids[3]}"></div></div>')
    return "hashed-classes"


def feat_bulk(p: Page, rng: random.Random) -> str:
    """Large inline CSS and a JSON menu blob: real pages are often tens of KB."""
    props = ["margin:0", "padding:0 10px", "color:#333", "font-size:14px", "line-height:1.6", "float:left",
             "background:#f5f5f5", "border-bottom:1px solid #ddd", "display:block", "width:100%", "height:auto"]
    names = ["nav", "menu", "list", "news", "box", "item", "title", "con", "side", "foot", "banner", "tab", "more", "pic"]
    rules = [f".{rng.choice(names)}{rng.choice(['', '-', '_'])}{rng.choice(names)}{rng.randint(1, 30)} {rng.choice(['a', 'li', 'span', 'p', 'h3', 'img'])}{{{';'.join(rng.sample(props, 3))}}}"
             for _ in range(rng.randint(150, 900))]
    p.css.append("\n".join(rules))
    menu = [{"id": i, "name": n, "url": f"/col{i}/", "children": [{"name": h, "url": f"/col{i}/{k}.html"} for k, h in enumerate(p.headlines)]}
            for i, n in enumerate(p.site["nav"])]
    p.put("body_end", "<script>window.__MENU__ = " + json.dumps(menu, ensure_ascii=False) + ";</script>")
    return "bulk-inline-css-json"


def feat_chat_widget(p: Page, rng: random.Random) -> str:
    """A fixed-position third-party iframe that is neither full-screen nor hostile."""
    host = rng.choice(["embed.tawk.to", "widget.intercom.io", "chat.53kf.com", "v2.zopim.com"])
    p.put("body_end", f'<iframe title="chat" src="https://{host}/{rid(rng, 8)}/default" style="position:fixed;bottom:16px;right:16px;width:360px;height:520px;border:0;z-index:2147483000;display:none" id="chat-frame"></iframe>'
          '<button onclick="document.getElementById(\'chat-frame\').style.display=\'block\'" style="position:fixed;bottom:16px;right:16px">Chat</button>')
    return "chat-widget"


def feat_back_button(p: Page, rng: random.Random) -> str:
    """Gov CMS 'back' links that read document.referrer and navigate - on the same site."""
    label = {"zh-Hans": "返回", "zh-Hant": "回上頁", "ja": "戻る"}.get(p.lang, "Back")
    p.put("after_article", f'<a href="javascript:void(0)" onclick="if(document.referrer&&document.referrer.indexOf(location.host)>-1){{history.back()}}else{{location.href=\'/\'}}">[{label}]</a>')
    return "referrer-back-link"


def feat_packed_plugin(p: Page, rng: random.Random) -> str:
    """Old sites inline p,a,c,k,e,d-packed jQuery plugins; packing alone is not evidence."""
    src = rng.choice([
        "(function($){$.fn.slide=function(o){var s=$.extend({speed:500,auto:true,interval:4000},o);return this.each(function(){var t=$(this),i=0,n=t.find('li').length;function go(k){i=(k+n)%n;t.find('ul').animate({left:-i*t.width()},s.speed)}if(s.auto){setInterval(function(){go(i+1)},s.interval)}})}})(jQuery);",
        "function setFontSize(size){var el=document.getElementById('zoom');if(el){el.style.fontSize=size+'px';var ps=el.getElementsByTagName('p');for(var i=0;i<ps.length;i++){ps[i].style.fontSize=size+'px'}}}",
        "var Tab={init:function(id){var box=document.getElementById(id);if(!box)return;var heads=box.getElementsByTagName('li');for(var i=0;i<heads.length;i++){heads[i].onclick=(function(k){return function(){Tab.show(box,k)}})(i)}},show:function(box,k){var panes=box.getElementsByTagName('div');for(var j=0;j<panes.length;j++){panes[j].style.display=j==k?'block':'none'}}};",
    ])
    p.put(rng.choice(["body_end", "footer"]), f'<script type="text/javascript">{pack(src)}</script>')
    return "packed-plugin"


BENIGN_FEATURES = [feat_analytics, feat_cookie, feat_megamenu, feat_tabs, feat_modal, feat_accordion_sponsors,
                   feat_sr_only, feat_template_noscript, feat_friend_links, feat_dup_ids, feat_hidden_same_site,
                   feat_share, feat_map_video, feat_marquee, feat_logo_indent, feat_email_obfuscation,
                   feat_spacers, feat_hashed_classes, feat_bulk, feat_chat_widget, feat_back_button,
                   feat_packed_plugin]


def add_benign_features(p: Page, rng: random.Random, k: int | None = None) -> list[str]:
    k = rng.randint(1, 5) if k is None else k
    return [f(p, rng) for f in rng.sample(BENIGN_FEATURES, k)]


# --------------------------------------------------------------------------------------------
# Script obfuscation (for injected scripts)
# --------------------------------------------------------------------------------------------


def js_escape_unescape(s: str) -> str:
    """Encode for JS unescape(): %XX for ASCII, %uXXXX above."""
    return "".join(f"%{ord(c):02X}" if ord(c) < 128 else f"%u{ord(c):04X}" for c in s)


def js_hex(s: str) -> str:
    return "".join(f"\\x{ord(c):02x}" if ord(c) < 256 else f"\\u{ord(c):04x}" for c in s)


def b62(n: int) -> str:
    """Dean Edwards' packer digit function e(c) for base 62."""
    prefix = "" if n < 62 else b62(n // 62)
    c = n % 62
    return prefix + (chr(c + 29) if c > 35 else "0123456789abcdefghijklmnopqrstuvwxyz"[c])


def pack(src: str) -> str:
    """A real p,a,c,k,e,d encoding of src (decodable by the standard unpacker)."""
    words = re.findall(r"\b\w+\b", src, flags=re.ASCII)
    freq: dict[str, int] = {}
    for w in words:
        freq[w] = freq.get(w, 0) + 1
    order = sorted(freq, key=lambda w: (-freq[w], words.index(w)))
    # Words that already equal some code must keep their own slot so decoding maps back to them.
    codes = {w: b62(i) for i, w in enumerate(order)}
    packed = re.sub(r"\b\w+\b", lambda m: codes[m.group(0)], src, flags=re.ASCII)
    keywords = "|".join("" if codes[w] == w else w for w in order)
    packed = packed.replace("\\", "\\\\").replace("'", "\\'")
    return ("eval(function(p,a,c,k,e,d){e=function(c){return(c<a?'':e(parseInt(c/a)))+((c=c%a)>35?String.fromCharCode(c+29):c.toString(36))};"
            "if(!''.replace(/^/,String)){while(c--){d[e(c)]=k[c]||e(c)}k=[function(e){return d[e]}];e=function(){return'\\\\w+'};c=1};"
            "while(c--){if(k[c]){p=p.replace(new RegExp('\\\\b'+e(c)+'\\\\b','g'),k[c])}}return p}"
            f"('{packed}',62,{len(order)},'{keywords}'.split('|'),0,{{}}))")


def obfuscate(js: str, how: str) -> str:
    if how == "plain":
        return js
    if how == "fromcharcode":
        return "eval(String.fromCharCode(" + ",".join(str(ord(c)) for c in js) + "))"
    if how == "hex":
        return f'eval("{js_hex(js)}")'
    if how == "unescape":
        return f"eval(unescape('{js_escape_unescape(js)}'))"
    if how == "atob":
        return f"eval(atob('{base64.b64encode(js.encode()).decode()}'))"
    if how == "packer":
        return pack(js)
    if how == "fn":
        return f"(new Function(decodeURIComponent('{quote(js, safe='')}')))()"
    raise ValueError(how)


def write_obfuscated(markup: str, how: str) -> str:
    """document.write() of markup, hiding the markup from naive scanners."""
    if how == "unescape":
        return f"<script>document.write(unescape('{js_escape_unescape(markup)}'));</script>"
    if how == "fromcharcode":
        return "<script>document.write(String.fromCharCode(" + ",".join(str(ord(c)) for c in markup) + "));</script>"
    if how == "atob":
        b = base64.b64encode(markup.encode()).decode()
        return f"<script>document.write(decodeURIComponent(escape(atob('{b}'))));</script>"
    if how == "hex":
        return f'<script type="text/javascript">document.writeln("{js_hex(markup)}");</script>'
    return f"<script>document.write('{markup.replace(chr(39), chr(92) + chr(39))}');</script>"


# --------------------------------------------------------------------------------------------
# Injections
# --------------------------------------------------------------------------------------------


def spam_lang_for(host_lang: str, rng: random.Random) -> str:
    """Spam usually matches the host language; sometimes not (id slot spam on an en site)."""
    if rng.random() < 0.8:
        return host_lang
    return {"en": rng.choice(["id", "ja", "zh-Hans", "th"]), "zh-Hant": "zh-Hans", "zh-Hans": "zh-Hant",
            "ja": "zh-Hans", "id": "en", "vi": "en", "th": "en"}[host_lang]


def spam_url(sl: str, rng: random.Random) -> str:
    return "https://" + rng.choice(SPAM[sl]["domains"]) + rng.choice(SPAM_PATHS)


def brand_phrase(sl: str, rng: random.Random) -> str:
    s = SPAM[sl]
    b = rng.choice(s["brands"])
    if sl in ("zh-Hans", "zh-Hant"):
        return b + rng.choice(s["suffixes"])
    if sl == "ja":
        return b + " " + rng.choice(s["suffixes"])
    return f"{b} {rng.choice(s['suffixes'])}" if rng.random() < 0.5 else b


def keyword_chain(sl: str, rng: random.Random, n: int, sep: str | None = None) -> str:
    s = SPAM[sl]
    b = rng.choice(s["brands"])
    parts = [b + s["suffixes"][0] if sl.startswith("zh") else b]
    pool = s["keywords"] + [b + x for x in s["suffixes"]] if sl.startswith("zh") else s["keywords"] + s["suffixes"]
    parts += rng.sample(pool, min(n, len(pool)))
    sep = sep or rng.choice(["_", ",", "|", "-", " ", "，"] if sl in CJK else [" | ", ", ", " - ", "_", " "])
    return sep.join(parts)


def spam_links(sl: str, rng: random.Random, n: int) -> str:
    s = SPAM[sl]
    pool = s["keywords"] + s["brands"] + ([*s["porn"]] if rng.random() < 0.3 else [])
    out = []
    for _ in range(n):
        out.append(f'<a href="{spam_url(sl, rng)}" target="_blank">{esc(rng.choice(pool))}</a>')
    return rng.choice(["", " ", "\n", "|", "<br>", "、"]).join(out)


def entity_encode(s: str) -> str:
    return "".join(f"&#{ord(c)};" if ord(c) > 127 or c.isalnum() else c for c in s)


TITLE_VARIANTS = ["prefix", "suffix", "replace", "entities", "restore"]
HIDDEN_VARIANTS = ["inline", "class", "marquee", "iframe", "unescape", "fromcharcode", "atob", "inline-nested"]
TEXT_VARIANTS = ["salad", "density", "linkfarm", "porn", "title-repeat", "anchors"]
OBFUSCATIONS = ["plain", "fromcharcode", "hex", "unescape", "atob", "packer", "fn"]


def inj_title(p: Page, rng: random.Random, sl: str, force: str | None = None) -> str:
    orig = p.site_title
    v = force or rng.choice(["prefix", "suffix", "replace", "entities", "restore", "prefix", "suffix"])
    brand = brand_phrase(sl, rng)
    if v == "prefix":
        if sl in ("zh-Hans", "zh-Hant"):
            new = rng.choice([f"【{brand}】{p.title}", f"{brand}-{p.title}", f"[{brand}]{p.title}", f"{brand}·{p.title}"])
        else:
            new = f"{brand} - {p.title}" if rng.random() < 0.5 else f"{keyword_chain(sl, rng, 2)} | {orig}"
    elif v == "suffix":
        new = rng.choice([f"{orig}_{brand}", f"{p.title}|{keyword_chain(sl, rng, 2)}", f"{orig} - {brand}"])
    elif v == "replace":
        new = keyword_chain(sl, rng, rng.randint(3, 6))
    elif v == "entities":
        new = rng.choice([f"{brand}-{p.title}", keyword_chain(sl, rng, 3), f"{p.title}_{brand}"])
    else:
        new = rng.choice([keyword_chain(sl, rng, 4), f"{brand}_{p.title}"])
    p.site_title = new
    if v == "entities":
        p.title_html = entity_encode(new)
    if v == "restore":
        safe = orig.replace("\\", "\\\\").replace("'", "\\'")
        js = rng.choice([
            f"if(!/baiduspider|googlebot|sogou|360spider|bingbot|spider|bot/i.test(navigator.userAgent)){{document.title='{safe}';}}",
            f"var ua=navigator.userAgent.toLowerCase();if(ua.indexOf('baidu')<0&&ua.indexOf('spider')<0&&ua.indexOf('bot')<0){{document.title=\"{safe}\"}}",
            f"(function(){{var s=['spider','bot','slurp','sogou','yisou'],u=navigator.userAgent.toLowerCase(),b=false;for(var i=0;i<s.length;i++)if(u.indexOf(s[i])!=-1)b=true;if(!b)document.title='{safe}';}})();",
        ])
        if rng.random() < 0.4:
            js = obfuscate(js, rng.choice(["fromcharcode", "hex", "unescape"]))
        p.head.append(f"<script>{js}</script>")
    stuffed = rng.random() < 0.65
    if stuffed:
        p.meta_keywords = keyword_chain(sl, rng, rng.randint(4, 9), ",")
        p.meta_description = rng.choice(SPAM[sl]["parasite"]).format(brand=rng.choice(SPAM[sl]["brands"]))
        if v == "entities" and rng.random() < 0.5:
            p.meta_description = entity_encode(p.meta_description)
            p.meta_keywords = p.meta_keywords  # keywords stay plain; description became entities
    # h1 keeps the real title (visitors see a normal article); sometimes the gang edits it too
    if rng.random() < 0.2:
        p.h1 = new
    return f"title {v} ({sl}){' + stuffed meta' if stuffed else ''}"


HIDE_STYLES = [
    "display:none", "display: none;", "visibility:hidden", "position:absolute;left:-9999px;top:-9999px",
    "position:absolute;top:-3000px", "text-indent:-9999px;overflow:hidden;height:0", "font-size:0;line-height:0",
    "height:1px;overflow:hidden", "width:1px;height:1px;overflow:hidden", "opacity:0;height:0",
    "clip:rect(0,0,0,0);position:absolute", "position:fixed;left:-10000px", "display:none!important",
    "overflow:hidden;width:0;height:0", "color:#fff;font-size:1px",
]


def inj_hidden(p: Page, rng: random.Random, sl: str, force: str | None = None) -> str:
    v = force or rng.choice(HIDDEN_VARIANTS + ["inline"])
    links = spam_links(sl, rng, rng.randint(5, 30))
    tag = rng.choice(["div", "div", "span", "p", "section", "ul"])
    if tag == "ul":
        links = "".join(f"<li>{a}</a></li>" for a in links.split("</a>") if "<a " in a)
    style = rng.choice(HIDE_STYLES)
    if v in ("inline", "unescape", "fromcharcode", "atob"):
        block = f'<{tag} style="{style}">{links}</{tag}>'
    elif v == "inline-nested":
        block = f'<div style="{style}"><div class="{rid(rng)}"><h3>{esc(brand_phrase(sl, rng))}</h3>{links}</div></div>'
    elif v == "class":
        cls = rid(rng)
        p.css.append(f".{cls}{{{rng.choice(HIDE_STYLES)}}}")
        block = f'<{tag} class="{cls}">{links}</{tag}>'
    elif v == "marquee":
        block = f'<marquee height="1" width="{rng.choice([1, 2, 3])}" scrollamount="{rng.randint(1000, 3000)}" scrolldelay="{rng.randint(1000, 5000)}">{links}</marquee>'
    else:
        url = spam_url(sl, rng)
        block = rng.choice([
            f'<iframe src="{url}" width="0" height="0" frameborder="0" scrolling="no"></iframe>',
            f'<iframe src="{url}" style="display:none"></iframe>',
            f'<iframe src="{url}" width="1" height="1" style="position:absolute;top:-2000px;left:-2000px;border:0"></iframe>',
            f'<iframe src="{url}" style="visibility:hidden;width:1px;height:1px"></iframe>',
        ])
    if v in ("unescape", "fromcharcode", "atob"):
        block = write_obfuscated(block, v)
    slot = rng.choice(["body_top", "body_top", "before_article", "after_article", "footer", "body_end", "body_end",
                       "after_html", "in_article", "sidebar", "head"])
    if slot == "in_article":
        p.in_article.setdefault(rng.randrange(len(p.paras)), []).append(block)
    elif slot == "head":
        p.head.append(block)  # browsers move it into body; seen in the wild after </title>
    else:
        p.put(slot, block)
    return f"hidden {v} [{style if v.startswith('inline') or v in ('unescape', 'fromcharcode', 'atob') else ''}] at {slot} ({sl})"


DEBRIS_TAGS = ["big", "td", "strike", "p", "del", "table", "noscript", "option", "font", "abbr", "sub", "sup",
               "address", "tbody", "tr", "th", "em", "i", "u", "s", "dfn", "var", "acronym", "legend", "label",
               "ol", "li", "dl", "dd", "pre", "rt", "ruby", "rp", "output", "video", "form", "center", "b", "bdo",
               "menu", "optgroup", "cite", "kbd", "samp", "source", "span", "tt", "xmp", "ins", "map", "q",
               "small", "strong", "object", "progress", "meter", "nav", "thead", "tfoot", "wbr", "mark", "track"]
VOID = {"source", "wbr", "track"}


def debris_run(rng: random.Random, ident: str, n: int) -> str:
    out = []
    for _ in range(n):
        outer = rng.choice(DEBRIS_TAGS)
        inner = rng.choice(DEBRIS_TAGS)
        if outer in VOID:
            out.append(f'<{outer} id="{ident}">')
            continue
        if rng.random() < 0.45:
            out.append(f'<{outer} id="{ident}"></{outer}>')
        else:
            inner_html = f'<{inner} id="{ident}">' if inner in VOID else f'<{inner} id="{ident}"></{inner}>'
            out.append(f'<{outer} id="{ident}">{inner_html}</{outer}>')
    joiner = rng.choice(["", "\n", "\n    ", " ", "\n        "])
    return joiner.join(out)


def inj_debris(p: Page, rng: random.Random, sl: str, force: str | None = None) -> str:
    ids = [rid(rng) for _ in range(rng.choice([1, 1, 1, 2, 3]))]
    runs = rng.randint(1, 6)
    places = []
    for _ in range(runs):
        ident = rng.choice(ids)
        run = debris_run(rng, ident, rng.randint(3, 14))
        slot = rng.choice(["body_top", "body_top", "body_end", "after_html", "in_article", "footer", "before_article", "sidebar"])
        if slot == "in_article":
            p.in_article.setdefault(rng.randrange(len(p.paras)), []).append(run)
        else:
            p.put(slot, run)
        places.append(slot)
    return f"debris ids={','.join(ids)} runs={runs} at {','.join(sorted(set(places)))}"


def salad(para: str, title: str, brand: str, lang: str, rng: random.Random, rate: float) -> str:
    """Seed-style word salad: title fragments and the brand pushed into the middle of sentences."""
    if lang in CJK or lang == "th":
        t = re.sub(r"[\s\W_]+", "", title) or title
        chunks = [t[i:i + 2] for i in range(0, max(len(t) - 1, 1), 2)] or [t]
        pieces = re.split(r"(，|,|、|。|；| )", para)
        out = []
        k = rng.randrange(len(chunks))
        for piece in pieces:
            out.append(piece)
            if piece in ("，", ",", "、", " ") and rng.random() < rate:
                out.append(brand if rng.random() < 0.25 else chunks[k % len(chunks)])
                k += 1
        return "".join(out)
    words = para.split(" ")
    tw = [w for w in re.split(r"\W+", title) if len(w) > 2] or [title]
    out = []
    for w in words:
        out.append(w)
        if rng.random() < rate / 4:
            out.append(brand if rng.random() < 0.35 else " ".join(rng.sample(tw, min(2, len(tw)))))
    return " ".join(out)


def inj_text(p: Page, rng: random.Random, sl: str, force: str | None = None) -> str:
    variants = rng.sample(TEXT_VARIANTS, rng.randint(1, 3))
    if force:
        variants = [force] + [v for v in variants if v != force][: rng.randint(0, 2)]
    brand = brand_phrase(sl, rng)
    done = []
    placed = False  # whether the brand named in the note is really on the page
    for v in variants:
        if v == "salad":
            rate = rng.uniform(0.45, 0.95)
            idx = rng.sample(range(len(p.paras)), max(1, round(len(p.paras) * rng.uniform(0.4, 1.0))))
            for i in idx:
                p.paras[i] = salad(p.paras[i], p.site_title if rng.random() < 0.5 else p.title, brand, p.lang, rng, rate)
            # salad() pastes the brand only at random; the page must carry it at least once
            # (done without drawing from rng, so every other page stays byte-identical).
            if not any(brand in p.paras[i] for i in idx):
                p.paras[idx[0]] = paste_middle(p.paras[idx[0]], brand)
            placed = True
        elif v == "density":
            kw = keyword_chain(sl, rng, rng.randint(3, 7), rng.choice([",", "，", " ", "、"]))
            p.author = kw if rng.random() < 0.5 else p.author
            p.in_article.setdefault(-1, []).append(f"<p>{esc(kw)}</p>")
            if rng.random() < 0.5:
                p.paras.insert(rng.randrange(len(p.paras) + 1), " ".join([brand] * rng.randint(3, 8)))
                placed = True
        elif v == "linkfarm":
            _, _, _, heads = BANK[sl] if sl in BANK else BANK[p.lang]
            items = rng.sample(heads, min(len(heads), rng.randint(6, 12)))
            # The farm promotes the brand among the unrelated headlines (added without
            # drawing from rng, so every other page stays byte-identical).
            if rng.random() < 0.5:
                items.insert(len(items) // 2, brand)
                farm = " ".join(esc(h) for h in items)
                p.in_article.setdefault(-1, []).append(f"<p>{farm}</p>")
            else:
                anchors = [f'<a href="/{rng.choice(["news", "html", "a"])}/{rng.randint(10000, 99999)}.html">{esc(h)}</a> ' for h in items]
                anchors.insert(len(anchors) // 2, f'<a href="https://{SPAM[sl]["domains"][0]}/">{esc(brand)}</a> ')
                farm = "".join(anchors)
                p.put(rng.choice(["after_article", "footer", "sidebar"]), f'<div class="{rng.choice(["news", "list", "tags", rid(rng)])}">{farm}</div>')
            placed = True
        elif v == "porn":
            chain = rng.choice(["_", " ", "|", "，"]).join(rng.sample(SPAM[sl]["porn"], min(3, len(SPAM[sl]["porn"]))))
            p.put(rng.choice(["footer", "body_end", "after_html"]), f'<div class="{rng.choice(["footer", "copyright", "bottom", rid(rng)])}">{esc(chain)}</div>')
        elif v == "title-repeat":
            frag = f"【{brand}】{p.title}" if sl.startswith("zh") else f"{brand} - {p.title}"
            for i in rng.sample(range(len(p.paras)), min(len(p.paras), rng.randint(2, 4))):
                p.in_article.setdefault(i, []).append(f"<p>{esc(frag)}</p>")
            placed = True
        else:
            p.put(rng.choice(["after_article", "sidebar", "before_article"]), f'<p class="{rng.choice(["tags", "keywords", "info"])}">{spam_links(sl, rng, rng.randint(3, 10))}</p>')
        done.append(v)
    # porn chains and spam anchors use other spam words: name the brand only when placed
    return f"text {'+'.join(done)}{f' brand={brand}' if placed else ''} ({sl})"


def paste_middle(text: str, phrase: str) -> str:
    """``text`` with ``phrase`` pasted after the separator nearest its middle."""
    middle = len(text) // 2
    cuts = [i + 1 for i, ch in enumerate(text) if ch in "，,、。 "]
    at = min(cuts, key=lambda i: abs(i - middle)) if cuts else middle
    return text[:at] + phrase + text[at:]


REFERRER_JS = [
    'var r=document.referrer;if(/baidu|google|sogou|so\\.com|sm\\.cn|bing/i.test(r)){{location.href="{u}";}}',
    '(function(){{var s=["baidu","sogou","so.com","google","360","sm.cn"];var r=document.referrer.toLowerCase();for(var i=0;i<s.length;i++){{if(r.indexOf(s[i])>-1){{window.location.replace("{u}");break;}}}}}})();',
    'if(document.referrer.match(/(google|bing|yahoo|duckduckgo|yandex)\\./i)){{top.location="{u}"}}',
    'var ua=navigator.userAgent;if(!/bot|spider|crawl/i.test(ua)&&/google|baidu|sogou/i.test(document.referrer)){{window.open("{u}","_self")}}',
    'var _r=document.referrer;if(_r&&(_r.indexOf("baidu.com")>0||_r.indexOf("so.com")>0||_r.indexOf("sogou.com")>0)){{setTimeout(function(){{location.href="{u}"}},{t});}}',
    'if(/Android|iPhone|Mobile/i.test(navigator.userAgent)&&document.referrer.indexOf("google")!=-1){{document.location="{u}"}}',
    'var f=document.referrer;var k=["baidu","google","yahoo","bing","sogou","haosou"];for(var i in k){{if(f.indexOf(k[i])!=-1){{window.top.location.href="{u}";}}}}',
]


def inj_redirect(p: Page, rng: random.Random, sl: str, force: str | None = None) -> str:
    url = spam_url(sl, rng)
    v = rng.choice(["meta", "iframe", "js", "js", "js", "js", "loader"])
    how_forced = None
    if force:
        v, _, how_forced = force.partition(":")
    if v == "meta":
        tag = f'<meta http-equiv="refresh" content="{rng.choice(["0", "0", "1", "0.1"])};url={url}">'
        if rng.random() < 0.7:
            p.head.append(tag)
        else:
            p.put("body_top", tag)
        return f"redirect meta-refresh -> {url}"
    if v == "iframe":
        p.put(rng.choice(["body_top", "body_end", "after_html"]),
              f'<iframe src="{url}" style="position:fixed;top:0;left:0;width:100%;height:100%;z-index:{rng.choice([999, 9999, 2147483647])};border:none;background:#fff" frameborder="0"></iframe>'
              + ('<style>body{overflow:hidden}</style>' if rng.random() < 0.5 else ""))
        return f"redirect fullscreen-iframe -> {url}"
    if v == "loader":
        s = f'<script src="https://js.{rng.choice(SPAM[sl]["domains"]).removeprefix("www.")}/{rng.choice(["tj", "common", "jquery.min", "stat"])}.js"></script>'
        p.head.append(write_obfuscated(s, rng.choice(["unescape", "hex"])) if rng.random() < 0.6 else s)
        # Loaders alone are unreadable from static HTML, so the gang's visible referrer check sits beside them.
        p.put("body_end", f"<script>{REFERRER_JS[0].format(u=url, t=100)}</script>")
        return f"redirect remote-loader + referrer js -> {url}"
    js = rng.choice(REFERRER_JS).format(u=url, t=rng.choice([0, 100, 500, 1500]))
    how = how_forced or rng.choice(OBFUSCATIONS + ["packer"])
    code = obfuscate(js, how)
    where = rng.choice(["head", "head", "body_top", "body_end", "after_html", "footer"])
    tag = f'<script type="text/javascript">{code}</script>' if rng.random() < 0.5 else f"<script>{code}</script>"
    if where == "head":
        p.head.append(tag)
    else:
        p.put(where, tag)
    return f"redirect referrer-js ({how}) at {where} -> {url}"


INJECTORS = {"title": inj_title, "hidden": inj_hidden, "debris": inj_debris, "text": inj_text,
             "redirect": inj_redirect}


# --------------------------------------------------------------------------------------------
# Parasite pages
# --------------------------------------------------------------------------------------------

PARASITE_SLUGS = {
    "id": ["slot-gacor-maxwin", "situs-slot-gacor-hari-ini", "togel-online-resmi", "link-slot88", "rtp-live-slot",
           "bocoran-slot-malam-ini"],
    "zh-Hans": ["pgdianzi", "jinsha-guanwang", "kaiyun-app", "bet365-zhuce", "ylc", "aomenweinisiren"],
    "zh-Hant": ["pg-dianzi", "yulecheng", "baijiale", "caishen-casino"],
    "ja": ["super-copy-vuitton", "rolex-copy", "brand-copy-gekiyasu", "n-kyu-hin", "chanel-copy"],
    "vi": ["nha-cai-uy-tin", "no-hu-doi-thuong", "789bet", "kubet-dang-ky"],
    "th": ["slot-web-trong", "ufabet", "baccarat-online", "pg-slot"],
    "en": ["best-online-casino", "buy-viagra-online", "replica-rolex", "cheap-cialis", "free-porn", "real-money-slots"],
}


def parasite_page(host_lang: str, sl: str, rng: random.Random, theme: str | None = None) -> tuple[Page, str, bool]:
    """A whole spam page dropped into a host site's path; returns (page, note, title_is_spam)."""
    sites = BANK[host_lang][0]
    site = rng.choice(sites)
    s = SPAM[sl]
    brand = rng.choice(s["brands"])
    pool = list(s["parasite"])
    if sl == "en" and theme:
        pool = EN_THEMES[theme]["paras"]
    paras = [x.format(brand=brand) for x in rng.sample(pool, min(len(pool), rng.randint(3, 5)))]

    def chain(n: int, sep: str | None = None) -> str:
        if sl == "en" and theme:
            kws = EN_THEMES[theme]["keywords"]
            return (sep or rng.choice([" | ", ", ", " - "])).join(rng.sample(kws, min(n + 1, len(kws))))
        return keyword_chain(sl, rng, n, sep)

    # Parasite pages pad themselves with keyword paragraphs
    for _ in range(rng.randint(1, 3)):
        paras.insert(rng.randrange(len(paras) + 1), chain(rng.randint(4, 8), rng.choice([", ", "，", " "])))
    heads = [chain(2, " ") for _ in range(rng.randint(5, 10))]
    slug = rng.choice(PARASITE_SLUGS[sl])
    if sl == "en" and theme:
        slug = {"casino": "real-money-slots", "pharma": "buy-viagra-online", "replica": "replica-rolex",
                "porn": "free-porn"}[theme] + rng.choice(["", "-2024", "-online", "-cheap"])
    path = rng.choice([f"/news/{rng.randint(2023, 2025)}/{slug}.html", f"/upload/files/{slug}/", f"/wp-content/uploads/2024/0{rng.randint(1, 9)}/{slug}.html",
                       f"/?{slug}", f"/pages/{slug}-{rng.randint(1, 99)}.php", f"/{rng.choice(['data', 'tmp', 'js', 'images'])}/{slug}.htm"])
    title = chain(rng.randint(2, 5))
    p = Page(lang=sl, site=site, title=title, paras=paras, headlines=heads, date=rand_date(rng),
             author=rng.choice(["admin", brand, "编辑", "Admin"]), path=path)
    title_spam = rng.random() < 0.85
    p.site_title = title if title_spam else (site["name"] if rng.random() < 0.5 else f"{UI[host_lang]['latest']} - {site['name']}")
    p.h1 = title if title_spam or rng.random() < 0.5 else brand_phrase(sl, rng)
    p.meta_keywords = chain(6, ",") if rng.random() < 0.7 else None
    p.meta_description = paras[0][:120] if rng.random() < 0.7 else None
    # Sibling parasite pages on the same host, plus CTA buttons to the casino
    sib = "".join(f'<li><a href="/news/{rng.randint(2023, 2025)}/{rng.choice(PARASITE_SLUGS[sl])}-{rng.randint(1, 400)}.html">{esc(chain(1, " "))}</a></li>' for _ in range(rng.randint(4, 12)))
    p.put("after_article", f'<div class="{rng.choice(["related", "tag-list", "hot"])}"><ul>{sib}</ul></div>')
    cta = {"id": ["DAFTAR", "LOGIN", "LINK ALTERNATIF"], "zh-Hans": ["立即注册", "登录入口", "APP下载"],
           "zh-Hant": ["立即註冊", "登入", "APP下載"], "ja": ["今すぐ購入", "カートに入れる"], "vi": ["ĐĂNG KÝ", "ĐĂNG NHẬP"],
           "th": ["สมัครสมาชิก", "เข้าสู่ระบบ"], "en": ["PLAY NOW", "ORDER NOW", "SIGN UP"]}[sl]
    buttons = "".join(f'<a class="btn" href="{spam_url(sl, rng)}" rel="nofollow" target="_blank" style="display:inline-block;padding:10px 24px;background:#{rng.choice(["e00", "fc0", "0a0", "c09"])};color:#fff">{c}</a> ' for c in cta)
    p.put("before_article", f'<div class="cta">{buttons}</div>')
    if sl in ("id", "th", "vi") and rng.random() < 0.6:
        rows = "".join(f"<tr><td>{g}</td><td>{rng.randint(90, 98)}.{rng.randint(10, 99)}%</td></tr>" for g in ["Mahjong Ways 2", "Gates of Olympus", "Starlight Princess", "Sweet Bonanza", "Wild Bandito"])
        p.in_article.setdefault(rng.randrange(len(p.paras)), []).append(f'<table class="rtp"><tr><th>Game</th><th>RTP</th></tr>{rows}</table>')
    if sl == "ja":
        items = "".join(f'<div class="item"><img src="/images/{rng.randint(100, 999)}.jpg"><p>{esc(rng.choice(s["keywords"]))} ¥{rng.randint(8, 60) * 1000:,}</p></div>' for _ in range(rng.randint(4, 9)))
        p.in_article.setdefault(-1, []).append(f'<div class="items">{items}</div>')
    standalone = rng.random() < 0.4
    if standalone:
        p.template = "standalone"
    else:  # dropped into the host CMS: the chrome around it keeps the host's own headlines
        host_heads = BANK[host_lang][3]
        p.headlines = rng.sample(host_heads, min(len(host_heads), rng.randint(5, 9)))
    note = f"parasite {sl} spam page on {site['domain']}{path}{' (standalone upload)' if standalone else ' (host template)'}"
    return p, note, title_spam


def tpl_standalone(p: Page, rng: random.Random) -> str:
    """Uploaded spam landing page: no host chrome at all."""
    return f"""<!DOCTYPE html>
<html lang="{p.lang}">
{head_html(p, rng)}
<body{p.body_attrs}>
{p.slot("body_top")}
<div class="{rng.choice(["wrap", "page", "main", "box"])}">
<h1>{esc(p.h1 or p.title)}</h1>
{p.slot("before_article")}
<div class="content">
{article_html(p, rng)}
</div>
{p.slot("after_article")}
<div class="list">{headline_list(p, rng)}</div>
{p.slot("sidebar")}
<p class="copy">© {p.date[:4]} {esc(p.site["name"] if rng.random() < 0.3 else p.title[:20])}</p>
{p.slot("footer")}
</div>
{p.slot("body_end")}
</body>
</html>"""


TEMPLATES["standalone"] = tpl_standalone


# --------------------------------------------------------------------------------------------
# Corpus assembly
# --------------------------------------------------------------------------------------------


@dataclass
class Entry:
    path: str
    label: str
    techniques: list[str]
    language: str
    note: str
    data: bytes


def finish(p: Page, rng: random.Random, extra_note: str = "") -> tuple[bytes, str]:
    choose_encoding(p, rng)
    data = render(p, rng)
    # Keep pages inside 3-80 KB by padding thin ones with more real prose, like a longer article.
    attempts = 0
    while len(data) < 3072 and attempts < 6:
        prose = BANK[p.lang][2] if p.lang in BANK else BANK["en"][2]
        p.paras.append(rng.choice(prose[rng.choice(list(prose))]))
        p.slots = {k: v for k, v in p.slots.items()}
        data = render_again(p, rng)
        attempts += 1
    enc = p.charset if not p.charset_decl.startswith("wrong:") else f"{p.charset} declared {p.charset_decl[6:]}"
    if p.charset_decl == "none":
        enc += " undeclared"
    fmt = [f"tpl={p.template}", enc]
    if p.minify:
        fmt.append("minified")
    if p.newline == "\r\n":
        fmt.append("CRLF")
    return data, f"{extra_note} [{', '.join(fmt)}]".strip()


def render_again(p: Page, rng: random.Random) -> bytes:
    """Re-render after padding; head fragments added by templates must not double up."""
    p.head = [h for h in p.head if not (h.startswith('<meta property="og:') or h.startswith('<script type="application/ld+json">')
                                        or "wp-content/themes" in h or 'type="application/rss+xml"' in h)]
    return render(p, rng)


def make_hijacked(rng: random.Random) -> list[Entry]:
    entries: list[Entry] = []
    counter: dict[str, int] = {}

    def emit(lang: str, key: str, p: Page, techs: list[str], note: str) -> None:
        counter[f"{lang}-{key}"] = counter.get(f"{lang}-{key}", 0) + 1
        name = f"hijacked/{lang.lower()}-{key}-{counter[f'{lang}-{key}']:03d}.html"
        data, full = finish(p, rng, note)
        order = ["title", "hidden", "debris", "text", "redirect", "parasite"]
        entries.append(Entry(name, "hijacked", sorted(set(techs), key=order.index), lang, full, data))

    def inject(p: Page, techs: list[str], force: str | None = None) -> str:
        notes = []
        for k, t in enumerate(techs):
            sl = spam_lang_for(p.lang, rng) if t != "debris" else p.lang
            notes.append(INJECTORS[t](p, rng, sl, force if k == 0 else None))
        return "; ".join(notes)

    for li, lang in enumerate(LANGS):
        # Every language gets every variant of title/text and a rotating share of hidden/redirect ones.
        forced = {
            "title": TITLE_VARIANTS,
            "hidden": [HIDDEN_VARIANTS[(li * 4 + i) % len(HIDDEN_VARIANTS)] for i in range(4)],
            "debris": [None] * 4,
            "text": ["salad", "porn", "linkfarm", TEXT_VARIANTS[[1, 4, 5][li % 3]]],
            "redirect": ["meta", "iframe", *[f"js:{OBFUSCATIONS[(li * 2 + i) % len(OBFUSCATIONS)]}" for i in range(2)]],
        }
        for tech, forces in forced.items():
            for i, force in enumerate(forces):
                p = build_host(lang, rng)
                feats = add_benign_features(p, rng, rng.randint(0, 4))
                if tech != "redirect" and rng.random() < 0.1:  # hosts had legit redirects before the hack
                    feats.append(feat_lang_redirect(p, rng))
                techs = [tech]
                if tech == "debris" and i > 0:  # debris almost always rides with other injections
                    techs += rng.sample(["title", "text", "hidden"], rng.randint(1, 2))
                elif rng.random() < 0.25:
                    techs.append(rng.choice([t for t in INJECTORS if t != tech]))
                note = f"{p.site['kind']} host {p.site['domain']}: " + inject(p, techs, force)
                emit(lang, tech, p, techs, note + (f"; benign: {','.join(feats)}" if feats else ""))
        # parasite pages written in this language, hosted on sites of varied languages
        n_par = {"en": 6, "id": 5, "zh-Hans": 4}.get(lang, 3)
        for i in range(n_par):
            host_lang = lang if rng.random() < 0.6 else rng.choice(["en", "id", "zh-Hans", "vi"])
            theme = ["casino", "pharma", "replica", "porn", "pharma", "casino"][i % 6] if lang == "en" else None
            p, note, title_spam = parasite_page(host_lang, lang, rng, theme)
            if p.template != "standalone":
                p.template = rng.choice(TEMPLATE_BY_KIND.get(p.site["kind"], ["portal"]))
                add_benign_features(p, rng, rng.randint(0, 2))
            techs = ["parasite"] + (["title"] if title_spam else [])
            extra = rng.random()
            if extra < 0.3:
                note += "; " + inj_redirect(p, rng, lang)
                techs.append("redirect")
            elif extra < 0.45:
                note += "; " + inj_hidden(p, rng, lang)
                techs.append("hidden")
            emit(lang, "parasite", p, techs, note)
        # combinations mirroring real hacks (seed-like: title + debris + text)
        for i in range(6):
            p = build_host(lang, rng)
            feats = add_benign_features(p, rng, rng.randint(0, 3))
            if i == 0:
                techs = ["title", "debris", "text"]
            elif i == 1:
                techs = ["title", "hidden", "redirect"]
            else:
                techs = rng.sample(list(INJECTORS), rng.randint(2, 4))
            note = f"{p.site['kind']} host {p.site['domain']}: " + inject(p, techs)
            emit(lang, "combo", p, techs, note + (f"; benign: {','.join(feats)}" if feats else ""))
    # Hosts that already talk about gambling/drugs/brands get hacked too; vocabulary alone can't decide.
    for kind, items in LOOKALIKES.items():
        for item in items[:2]:
            p = build_host(item["lang"], rng, site=item["site"], title=rng.choice(item["titles"]),
                           paras=rng.sample(item["paras"], len(item["paras"])))
            feats = add_benign_features(p, rng, rng.randint(1, 3))
            techs = rng.sample(list(INJECTORS), rng.choice([1, 1, 2]))
            note = f"look-alike {kind} host {item['site']['domain']} hijacked: " + inject(p, techs)
            emit(item["lang"], techs[0], p, techs, note + f"; benign: {','.join(feats)}")
    return entries


def make_clean(rng: random.Random) -> list[Entry]:
    entries: list[Entry] = []
    counter: dict[str, int] = {}

    def emit(lang: str, key: str, p: Page, note: str) -> None:
        counter[f"{lang}-{key}"] = counter.get(f"{lang}-{key}", 0) + 1
        name = f"clean/{lang.lower()}-{key}-{counter[f'{lang}-{key}']:03d}.html"
        data, full = finish(p, rng, note)
        entries.append(Entry(name, "clean", [], lang, full, data))

    # Look-alikes: same vocabulary as spam, legitimate context
    for kind, items in LOOKALIKES.items():
        for item in items:
            reps = 3 if len(items) <= 3 else 2
            for _ in range(reps):
                lang = item["lang"]
                title = rng.choice(item["titles"])
                paras = rng.sample(item["paras"], len(item["paras"]))
                p = build_host(lang, rng, site=item["site"], title=title, paras=paras)
                if kind in ("lottery", "casino_biz", "luxury", "ja_sale"):
                    p.meta_keywords = ",".join([item["site"]["name"], *title.split()[:3]])
                feats = add_benign_features(p, rng, rng.randint(1, 4))
                emit(lang, kind, p, f"look-alike {kind}: {item['site']['name']} - {title}; features: {','.join(feats)}")
    # Ordinary institutional pages with many legitimately hidden / scripted parts
    for lang in LANGS:
        for i in range(14):
            p = build_host(lang, rng)
            feats = add_benign_features(p, rng, rng.randint(2, 6))
            if i < 2:
                feats.append(feat_lang_redirect(p, rng))
            if i == 2:
                feats.append(feat_map_video(p, rng))
            if i == 3:
                feats += [feat_hidden_same_site(p, rng), feat_dup_ids(p, rng)]
            emit(lang, p.site["kind"], p, f"{p.site['kind']} page on {p.site['domain']}; features: {','.join(feats)}")
    return entries


# Evasions a QA pass found (2026-11-28): drawn from their own random stream, after the
# pages above, so those stay byte-identical.
EVASIONS = ["noscript", "alternate", "js-all", "title-script", "deep", "onload"]


def inj_evasion(p: Page, rng: random.Random, sl: str, v: str) -> tuple[str, str]:
    """(technique, note) for one evasion variant injected into ``p``."""
    url = spam_url(sl, rng)
    if v == "noscript":
        p.put(rng.choice(["body_top", "footer", "body_end", "after_article"]),
              f"<noscript>{spam_links(sl, rng, rng.randint(4, 12))}</noscript>")
        return "hidden", "hidden links inside <noscript>"
    if v == "alternate":
        rel = rng.choice(['rel="amphtml"', 'rel="canonical"', 'rel="alternate" hreflang="x-default"'])
        p.head.append(f'<link {rel} href="{url}">')
        return "redirect", f"<link {rel}> -> {url}"
    if v == "js-all":
        code = rng.choice([
            f'window.location.href="{url}";',
            f'if(/Android|iPhone|iPad|Mobile/i.test(navigator.userAgent)){{location.replace("{url}")}}',
            f'setTimeout(function(){{top.location="{url}"}},{rng.choice([0, 300, 1000])});',
        ])
        p.put(rng.choice(["body_top", "body_end"]), f"<script>{code}</script>")
        return "redirect", f"script sends every (or mobile) visitor -> {url}"
    if v == "title-script":
        spam_title = keyword_chain(sl, rng, rng.randint(3, 5))
        safe = spam_title.replace("\\", "\\\\").replace('"', '\\"')
        code = rng.choice([
            f'var t="{safe}";document.title=t;',
            f'document.getElementsByTagName("title")[0].innerHTML="{safe}";',
            f'document.querySelector("title").textContent="{safe}";',
        ])
        p.head.append(f"<script>{code}</script>")
        return "title", "script sets a spam title indirectly"
    if v == "deep":
        n = rng.choice([260, 400, 2100])
        tag = rng.choice(["span", "div", "b", "font"])
        p.put("body_top", f"<{tag}>" * n + "&nbsp;" + f"</{tag}>" * n)
        p.put(rng.choice(["footer", "body_end"]),
              f'<div style="{rng.choice(HIDE_STYLES)}">{spam_links(sl, rng, rng.randint(5, 15))}</div>')
        return "hidden", f"{n} nested <{tag}> in front of a hidden link block"
    p.body_attrs += (
        ' onload="var r=document.referrer;if(/baidu|google|sogou|bing/i.test(r))'
        f"{{location.href='{url}'}}\""
    )
    return "redirect", f"<body onload> referrer redirect -> {url}"


def make_evasions(rng: random.Random) -> list[Entry]:
    entries: list[Entry] = []
    for lang in LANGS:
        for v in EVASIONS:
            p = build_host(lang, rng)
            feats = add_benign_features(p, rng, rng.randint(0, 3))
            tech, note = inj_evasion(p, rng, spam_lang_for(lang, rng), v)
            name = f"hijacked/{lang.lower()}-evasion-{v}.html"
            data, full = finish(p, rng, f"{p.site['kind']} host {p.site['domain']}: {note}"
                                + (f"; benign: {','.join(feats)}" if feats else ""))
            entries.append(Entry(name, "hijacked", [tech], lang, full, data))
        # what the evasions look like on clean pages
        p = build_host(lang, rng)
        domain = p.site["domain"]
        p.head.append(f'<link rel="canonical" href="https://{domain}{p.path}">')
        p.head.append(f'<link rel="amphtml" href="https://{domain}/amp{p.path}">')
        p.head.append(f'<link rel="alternate" hreflang="en" href="https://en.{domain.removeprefix("www.")}/">')
        p.put("body_top", '<noscript><iframe src="https://www.googletagmanager.com/ns.html?id=GTM-'
              f'{rid(rng).upper()}" height="0" width="0" style="display:none;visibility:hidden"></iframe></noscript>')
        p.put("body_end", "<noscript>JavaScript is disabled. <a href=\"https://www.enable-javascript.com/\">"
              "How to enable it</a></noscript>")
        p.body_attrs += ' onload="if(/Android|iPhone/i.test(navigator.userAgent)){location.href=\'https://m.' \
            + domain.removeprefix("www.") + "/'}\""
        p.put("body_top", "<div>" * 300 + "&nbsp;" + "</div>" * 300)
        p.head.append('<script>var t=document.title;document.title="(1) "+t;</script>')
        data, full = finish(p, rng, f"{p.site['kind']} page on {domain}: own canonical/amphtml/hreflang, "
                            "GTM and notice <noscript>, mobile onload redirect to its m. site, 300 nested "
                            "divs, script-prefixed title")
        entries.append(Entry(f"clean/{lang.lower()}-evasion-lookalike.html", "clean", [], lang, full, data))
    return entries


def shared_entries() -> list[dict]:
    out = []
    for f in sorted(SHARED_BENIGN.glob("*.html")):
        out.append({"path": f"{SHARED_REL}/{f.name}", "label": "clean", "techniques": [],
                    "language": guess_language(f.read_bytes()), "note": f"real page from Mozilla Readability test suite ({f.stem})"})
    return out


def guess_language(data: bytes) -> str:
    """Best-effort language tag for the shared real pages (html lang, else script heuristics)."""
    text = data.decode("utf-8", errors="replace")
    m = re.search(r"<html[^>]*\blang=[\"']?([A-Za-z-]+)", text[:5000], flags=re.I)
    if m:
        tag = m.group(1)
        low = tag.lower()
        if low in ("zh-tw", "zh-hk", "zh-hant"):
            return "zh-Hant"
        if low in ("zh-cn", "zh-hans", "zh-sg"):
            return "zh-Hans"
        return low.split("-")[0]
    body = re.sub(r"<script.*?</script>|<style.*?</style>|<[^>]+>", " ", text, flags=re.S | re.I)
    kana = len(re.findall(r"[\u3040-\u30ff]", body))
    han = len(re.findall(r"[\u4e00-\u9fff]", body))
    if kana > 50:
        return "ja"
    if han > 200:
        simp = len(re.findall(r"[这们国说时会对发来经还]", body))
        trad = len(re.findall(r"[這們國說時會對發來經還]", body))
        return "zh-Hans" if simp > trad else "zh-Hant" if trad > simp else "zh"
    if len(re.findall(r"[\u0400-\u04ff]", body)) > 200:
        return "ru"
    if len(re.findall(r"[\uac00-\ud7af]", body)) > 100:
        return "ko"
    words = re.findall(r"[a-zà-ÿ]+", body.lower())
    for lang, stops in (("en", {"the", "and", "of", "to", "is", "in"}), ("fr", {"le", "les", "des", "et"}),
                        ("es", {"el", "los", "del", "que"}), ("de", {"der", "die", "und", "das"})):
        if sum(1 for w in words if w in stops) > max(3, len(words) // 60):
            return lang
    return "und"


README = """# hijackwatch evaluation corpus

Labelled pages for measuring the hijacked-page detector: **{n_hij} hijacked** pages and **{n_cln}
generated clean** pages written by `generate.py`, plus the **{n_shared} real clean pages** in
`/work/shared/corpus/benign/readability/` (listed in `labels.jsonl` by relative path
`../../../shared/corpus/benign/readability/<name>.html`, not copied). {n_all} label rows in all.

This file is written by `generate.py`; edit the template there, not here.

## Files

- `labels.jsonl` - one JSON object per page: `path` (relative to this folder), `label`
  (`hijacked` | `clean`), `techniques` (hijacked pages only; subset of `title`, `hidden`, `debris`,
  `text`, `redirect`, `parasite`), `language` (language of the page text), `note` (what the host
  page is, what was injected where, and the page's template/encoding/line format).
- `hijacked/*.html`, `clean/*.html` - the generated pages, raw bytes as a server would send them.
- `generate.py` - the generator (fixed seed {seed}); `content_*.py` - its text banks.

## Regenerate and verify

```
.venv/bin/python tests/corpus/generate.py          # rewrites pages, labels.jsonl, README.md
.venv/bin/python tests/corpus/generate.py --check  # regenerates in memory, compares byte for byte,
                                                   # checks paths, JSON, counts, sizes, lxml parsing
.venv/bin/python tests/corpus/generate.py --scripts  # needs node: runs inline scripts in a stub DOM
```

Generation is deterministic: the same script always produces identical bytes.

## Counts

{by_lang}

Techniques on hijacked pages (a page counts once under every technique it carries):

{tech_lang}

{ntech}

Generated clean pages by kind (`crackdown`, `lottery`, `casino_biz`, `sildenafil`, `slot_waktu`,
`luxury`, `ja_sale`, `gambling_law` are look-alikes that use spam vocabulary legitimately; the rest
are ordinary institutional pages carrying benign hidden/scripted features):

{kinds}

{enc}

Shared real pages by language (from `<html lang>` or a script/stop-word guess): {shared_lang}.

Generated page sizes: min {smin} B, median {smed} B, max {smax} B.

## Labelling conventions

- `title`: the `<title>` (or meta keywords/description) carries spam brands/keywords: prefix
  (`【brand·(中國)娛樂官方網站】...`), suffix (`..._brand官网`, `...|slot gacor maxwin`), full
  replacement by a keyword chain, numeric-entity encoding (`&#24494;...`), or a spam title plus a
  script that restores the real title for non-bot user agents. Also used on parasite pages whose
  title is spam (most of them); parasite pages that keep the host's generic title omit it.
- `hidden`: spam links hidden by inline CSS, a class rule in `<style>`, tiny `<marquee>`,
  zero-size/off-screen `<iframe>`, or written by `document.write(unescape|String.fromCharCode|atob)`.
- `debris`: runs of empty elements sharing a short random id with invalid nesting (seed-style).
- `text`: visible injected text: word salad (title fragments/brand inside sentences), keyword
  density, link farms of unrelated headlines, spam anchors, porn keyword chains, repeated title lines.
- `redirect`: meta refresh or full-screen fixed iframe to another domain, or referrer/user-agent
  gated navigation scripts, plain or obfuscated (`fromCharCode`, `\\x` escapes, `unescape`, `atob`,
  `new Function(decodeURIComponent(...))`, a real Dean Edwards `eval(function(p,a,c,k,e,d)...)`
  packing). `--scripts` runs every page's inline scripts under node in a stub DOM and checks that
  each script redirect really navigates off-site and no clean page does.
- `parasite`: the whole page is spam living on a legitimate host path (Indonesian slot/togel,
  Chinese gambling portals, Japanese fake-brand shops, Vietnamese nhà cái, Thai สล็อต, English
  casino/pharma/replica/porn), either inside the host CMS template or as a standalone upload.
- Spam language can differ from the host language (e.g. Indonesian slot links on an English site);
  `language` is the host page's language except for parasite pages, where it is the spam's.

## Things that make it hard (on purpose)

- Every benign feature is applied to clean *and* hijacked hosts: mega-menus and tabs hidden with
  `display:none`, modals, cookie banners, sponsor accordions, `sr-only` skip links, `text-indent`
  logo replacement, `<template>`, `<noscript>` pixels, Baidu Tongji / gtag / CNZZ / Matomo / own
  counters reading `document.referrer`, gov friend-link footers, scrolling `<marquee>` notices,
  e-mail addresses obfuscated with `fromCharCode`/`atob`/Cloudflare, duplicate ids, empty spacer
  elements, framework-hashed class names, map/video iframes, large inline CSS/JSON.
- Clean pages include same-site redirects (meta refresh to `/en/`, mobile-subdomain and language
  scripts, periodic self-refresh) and look-alikes quoting spam terms; some look-alike hosts also
  appear hijacked.
- Encodings: GBK, GB2312, Big5, Shift_JIS, EUC-JP with matching declarations, plus pages with no
  declaration or a wrong one (GBK/Big5/Shift_JIS bytes declared UTF-8, UTF-8 declared ISO-8859-1);
  some CRLF, some minified.
- Injections are placed in the head, body top, inside the article, sidebar, footer, body end and
  **after `</html>`** ({trailing} hijacked pages have content there). libxml2 (lxml) drops
  trailing content after `</html>` that browsers keep, so a detector parsing with lxml alone
  misses those injections.
- Legitimate pages also carry things spam is known for: a packed (`p,a,c,k,e,d`) inline plugin,
  `document.referrer`-reading back links and counters, fixed-position chat iframes, off-screen text.
- Spam domains are reserved or invented names (`*.example`, `*.invalid`, made-up `.com`/`.vip`/
  `.top`/`.xyz`...); legitimate example hosts use `*.example` too. Nothing is ever contacted.
"""


TECHNIQUES = ["title", "hidden", "debris", "text", "redirect", "parasite"]
MIN_HIJACKED, MIN_CLEAN_GENERATED = 170, 150


def build() -> tuple[list[Entry], list[dict]]:
    """Everything the corpus consists of, in memory (pages + label rows)."""
    rng = random.Random(SEED)
    _encoding_bags.clear()
    pages = make_hijacked(rng) + make_clean(rng) + make_evasions(random.Random(SEED + 1))
    rows = [{"path": e.path, "label": e.label, "techniques": e.techniques, "language": e.language, "note": e.note}
            for e in pages]
    return pages, rows + shared_entries()


def labels_text(rows: list[dict]) -> str:
    return "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows)


def table(header: list[str], body: list[list]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in body]
    return "\n".join(lines)


def readme_text(pages: list[Entry], rows: list[dict]) -> str:
    gen = [r for r in rows if not r["path"].startswith("../")]
    hij = [r for r in gen if r["label"] == "hijacked"]
    cln = [r for r in gen if r["label"] == "clean"]
    shared = [r for r in rows if r["path"].startswith("../")]
    langs = [lg for lg in LANGS if any(r["language"] == lg for r in gen)]
    by_lang = [[lg, sum(r["language"] == lg for r in hij), sum(r["language"] == lg for r in cln)] for lg in langs]
    tech_lang = [[t, *[sum(t in r["techniques"] and r["language"] == lg for r in hij) for lg in langs],
                  sum(t in r["techniques"] for r in hij)] for t in TECHNIQUES]
    ntech: dict[int, int] = {}
    for r in hij:
        ntech[len(r["techniques"])] = ntech.get(len(r["techniques"]), 0) + 1
    kinds: dict[str, int] = {}
    for r in cln:
        k = r["path"].split("/")[1].rsplit("-", 1)[0]
        k = k.split("-", 2)[-1] if k.startswith("zh-") else k.split("-", 1)[-1]
        kinds[k] = kinds.get(k, 0) + 1
    enc: dict[str, int] = {}
    for r in gen:
        m = re.search(r"\[tpl=[^,]+, ([^\]]+)\]$", r["note"])
        parts = (m.group(1) if m else "?").split(", ")
        for key in [parts[0], *[f"format: {x}" for x in parts[1:]]]:
            enc[key] = enc.get(key, 0) + 1
    shared_lang: dict[str, int] = {}
    for r in shared:
        shared_lang[r["language"]] = shared_lang.get(r["language"], 0) + 1
    sizes = sorted(len(e.data) for e in pages)
    trailing = sum(1 for e in pages if e.label == "hijacked" and re.search(rb"</html>\s*\S", e.data, flags=re.I))
    return README.format(
        seed=SEED,
        n_hij=len(hij), n_cln=len(cln), n_shared=len(shared), n_all=len(rows),
        by_lang=table(["language", "hijacked", "clean (generated)"], by_lang),
        tech_lang=table(["technique", *langs, "total"], tech_lang),
        ntech=table(["techniques per page", "pages"], [[k, ntech[k]] for k in sorted(ntech)]),
        kinds=table(["clean page kind", "pages"], [[k, kinds[k]] for k in sorted(kinds)]),
        enc=table(["byte encoding (and declaration) / format, generated pages", "pages"], [[k, enc[k]] for k in sorted(enc)]),
        shared_lang=", ".join(f"{k}: {v}" for k, v in sorted(shared_lang.items())),
        smin=sizes[0], smax=sizes[-1], smed=sizes[len(sizes) // 2], trailing=trailing,
    )


def validate(rows: list[dict]) -> list[str]:
    """Problems with the corpus on disk (empty list when it is sound)."""
    import lxml.html

    problems = []
    n_hij = sum(r["label"] == "hijacked" for r in rows)
    n_gen_clean = sum(r["label"] == "clean" and not r["path"].startswith("../") for r in rows)
    if n_hij < MIN_HIJACKED:
        problems.append(f"only {n_hij} hijacked pages")
    if n_gen_clean < MIN_CLEAN_GENERATED:
        problems.append(f"only {n_gen_clean} generated clean pages")
    for r in rows:
        path = HERE / r["path"]
        if not path.is_file():
            problems.append(f"missing {r['path']}")
            continue
        if r["label"] not in ("hijacked", "clean") or not set(r["techniques"]) <= set(TECHNIQUES):
            problems.append(f"bad label row {r['path']}")
        if (r["label"] == "hijacked") != bool(r["techniques"]):
            problems.append(f"techniques/label mismatch {r['path']}")
        data = path.read_bytes()
        if not r["path"].startswith("../") and not 3 * 1024 <= len(data) <= 80 * 1024:
            problems.append(f"size {len(data)} out of 3-80 KB: {r['path']}")
        try:
            root = lxml.html.document_fromstring(data, parser=lxml.html.HTMLParser(huge_tree=True))
            ok = root.find("body") is not None and (r["path"].startswith("../") or len(root.text_content()) > 200)
            # nested past libxml2's limit on purpose: the analyser flattens such pages
            ok = ok or "-evasion-deep" in r["path"]
        except Exception as exc:  # any parser failure is a corpus bug
            ok, exc_text = False, str(exc)
        else:
            exc_text = "body missing or nearly empty"
        if not ok:
            if r["path"].startswith("../"):  # not ours to fix; reported so detectors decode first
                print(f"note: lxml from bytes loses {r['path']}: {exc_text}")
            else:
                problems.append(f"lxml cannot parse {r['path']}: {exc_text}")
    for lang in LANGS:
        for t in TECHNIQUES:
            if not any(r["language"] == lang and t in r["techniques"] for r in rows):
                problems.append(f"no {t} page in {lang}")
    return problems


def check_scripts(rows: list[dict]) -> list[str]:
    """Execute inline scripts under node in a stub DOM: script redirects must navigate off-site,
    title-restoring scripts must change document.title, clean pages must not leave their own host."""
    import shutil
    import subprocess

    if not shutil.which("node"):
        return ["node not found; cannot run --scripts"]
    own_hosts = set()
    for site in [s for bank in BANK.values() for s in bank[0]] + [i["site"] for v in LOOKALIKES.values() for i in v]:
        own_hosts |= {site["domain"], "m." + site["domain"].removeprefix("www.")}
    scripts: dict[str, list[str]] = {}
    gen = [r for r in rows if not r["path"].startswith("../")]
    for r in gen:
        raw = (HERE / r["path"]).read_bytes()
        m = re.search(rb"charset=[\"']?([-\w]+)", raw[:3000])
        enc = m.group(1).decode().lower() if m else "utf-8"
        text = raw.decode({"shift_jis": "cp932", "gb2312": "gbk"}.get(enc, enc), errors="replace")
        scripts[r["path"]] = [body for attrs, body in re.findall(r"<script([^>]*)>(.*?)</script>", text, flags=re.S | re.I)
                              if "src=" not in attrs and "ld+json" not in attrs and body.strip()]
    proc = subprocess.run(["node", str(HERE / "check_scripts.js")], input=json.dumps(scripts), capture_output=True,
                          text=True, timeout=300, check=True)
    logs = json.loads(proc.stdout)
    problems = []
    for r in gen:
        log = logs[r["path"]]
        navs = [x[4:] for x in log if x.startswith("nav:")]
        offsite = [u for u in navs if re.match(r"(https?:)?//", u) and urlsplit(u).hostname not in own_hosts]
        if r["label"] == "hijacked" and "referrer-js" in r["note"] and not offsite:
            problems.append(f"script redirect does not fire: {r['path']}")
        if "title restore" in r["note"] and not any(x.startswith("title:") for x in log):
            problems.append(f"title restore does not fire: {r['path']}")
        if r["label"] == "clean" and offsite:
            problems.append(f"clean page navigates off-site: {r['path']} {offsite}")
    return problems


def main(argv: list[str]) -> int:
    pages, rows = build()
    readme = readme_text(pages, rows)
    if "--scripts" in argv:
        problems = check_scripts(rows)
        for msg in problems:
            print("FAIL", msg)
        print(f"script check: {'OK' if not problems else f'{len(problems)} problems'}")
        return 1 if problems else 0
    if "--check" in argv:
        # Regenerate in memory and require the committed files to match byte for byte.
        problems = [f"stale {e.path}" for e in pages if not (HERE / e.path).is_file() or (HERE / e.path).read_bytes() != e.data]
        on_disk = {f"{d}/{f.name}" for d in ("hijacked", "clean") for f in (HERE / d).glob("*.html")}
        problems += [f"unlisted {p}" for p in sorted(on_disk - {e.path for e in pages})]
        if (HERE / "labels.jsonl").read_text(encoding="utf-8") != labels_text(rows):
            problems.append("labels.jsonl differs from generator output")
        if (HERE / "README.md").read_text(encoding="utf-8") != readme:
            problems.append("README.md differs from generator output")
        disk_rows = [json.loads(line) for line in (HERE / "labels.jsonl").read_text(encoding="utf-8").splitlines()]
        problems += validate(disk_rows)
        for msg in problems:
            print("FAIL", msg)
        print(f"checked {len(disk_rows)} label rows: {'OK' if not problems else f'{len(problems)} problems'}")
        return 1 if problems else 0
    for sub in ("hijacked", "clean"):
        d = HERE / sub
        d.mkdir(exist_ok=True)
        for old in d.glob("*.html"):
            old.unlink()
    for e in pages:
        (HERE / e.path).write_bytes(e.data)
    (HERE / "labels.jsonl").write_text(labels_text(rows), encoding="utf-8", newline="\n")
    (HERE / "README.md").write_text(readme, encoding="utf-8", newline="\n")
    n_h = sum(e.label == "hijacked" for e in pages)
    print(f"hijacked={n_h} clean_generated={len(pages) - n_h} shared={len(rows) - len(pages)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
