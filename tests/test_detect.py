"""Detection library: the real seed page, the shared benign pages, and each technique
with a small positive and a negative (look-alike) example."""

from __future__ import annotations

import os
import subprocess
import sys
import unicodedata
from pathlib import Path

import pytest

from hijackwatch.detect import Analysis, analyse
from hijackwatch.detect.detectors import _BRAND_TOKEN, brand_tokens
from hijackwatch.detect.findings import KIND_TECHNIQUE
from hijackwatch.detect.lexicon import scan, scan_many, spelled_as
from hijackwatch.detect.summary import hamming, simhash
from hijackwatch.detect.text import _T2S, _ZERO_WIDTH, normalise
from tests.conftest import BENIGN_DIR, SEED_PAGE

BENIGN_PAGES = sorted((BENIGN_DIR / "readability").glob("*.html"))


def kinds(analysis: Analysis) -> set[str]:
    return {f.kind for f in analysis.findings}


def page(
    body: str, title: str = "市教育局关于做好2024年秋季学期开学工作的通知", head: str = ""
) -> str:
    """A plain government news page around ``body``."""
    return (
        f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>{title}</title>{head}</head>"
        "<body><div class='header'><a href='/'>市教育局</a><ul class='nav'>"
        "<li><a href='/news/'>新闻动态</a></li><li><a href='/notice/'>通知公告</a></li></ul></div>"
        "<div class='main'><h1>关于做好2024年秋季学期开学工作的通知</h1>"
        "<p>各区县教育局、局属各学校：为切实做好秋季学期开学各项工作，确保校园安全稳定，"
        "现就有关事项通知如下。一、加强校园安全检查，认真排查消防、食品和交通安全隐患。"
        "二、做好教材发放和教学准备工作，保障学生按时上课。三、加强家校沟通，及时回应家长关切。</p>"
        f"{body}"
        "<p>请各单位高度重视，认真抓好落实。联系电话：0571-12345678。</p></div>"
        "<div class='footer'>版权所有：市教育局 地址：人民路1号</div></body></html>"
    )


def en_page(body: str, title: str = "Road Resurfacing Schedule | Springfield Public Works") -> str:
    return (
        f"<html><head><title>{title}</title></head><body><header><a href='/'>Public Works</a>"
        "</header><main><h1>Road Resurfacing Schedule</h1><p>The city will resurface Elm "
        "Street and Oak Avenue between June 3 and June 14. Expect lane closures during the day "
        "and plan extra travel time. Residents can call the public works office with "
        f"questions.</p>{body}<p>Thank you for your patience.</p></main>"
        "<footer>City of Springfield</footer></body></html>"
    )


# ------------------------------------------------------------------ real pages


def test_seed_page_is_hijacked_with_title_debris_and_text_findings() -> None:
    analysis = analyse(SEED_PAGE.read_bytes(), "https://news.example.cn/news/1.html")
    assert analysis.verdict == "hijacked"
    assert {"title_injection", "template_debris", "injected_text"} <= kinds(analysis)
    title = next(f for f in analysis.findings if f.kind == "title_injection")
    assert "pg電子" in title.evidence  # evidence shows the title as the webmaster sees it
    debris = next(f for f in analysis.findings if f.kind == "template_debris")
    assert "qd94c" in debris.evidence
    assert analysis.summary.spam_hits > 0
    assert analysis.summary.simhash != 0
    assert analysis.summary.title.startswith("【pg")


@pytest.mark.parametrize("path", BENIGN_PAGES, ids=lambda p: p.name)
def test_shared_benign_pages_are_not_hijacked(path: Path) -> None:
    analysis = analyse(path.read_bytes())
    assert analysis.verdict == "clean", [
        (f.kind, f.severity, f.evidence) for f in analysis.findings
    ]


def test_benign_directory_is_present() -> None:
    assert len(BENIGN_PAGES) >= 100


# ------------------------------------------------------------------ encodings and input


def test_gbk_bytes_with_meta_charset() -> None:
    html = page("", title="【澳门新葡京官网入口】市教育局关于做好秋季开学工作的通知")
    body = html.replace("charset='utf-8'", "charset='gbk'").encode("gbk")
    analysis = analyse(body)
    assert analysis.encoding == "gb18030"
    assert analysis.title and analysis.title.startswith("【澳门新葡京")
    assert "title_injection" in kinds(analysis)


def test_big5_bytes_without_declaration_are_sniffed() -> None:
    html = (
        "<html><head><title>臺北市政府教育局112學年度招生簡章公告</title></head><body>"
        "<h1>112學年度招生簡章公告</h1><p>本局公告112學年度高級中等學校招生簡章，請各校依規定"
        "辦理報名作業，並加強宣導相關注意事項，以維護學生權益。報名期間為五月一日至五月十日。</p>"
        "<div class='f'>百家樂_真人視訊_澳門賭場_線上娛樂城_註冊送彩金</div></body></html>"
    )
    analysis = analyse(html.encode("big5"))
    assert analysis.title == "臺北市政府教育局112學年度招生簡章公告"
    assert analysis.verdict == "hijacked"  # traditional spam terms match after t2s folding


def test_explicit_encoding_wins() -> None:
    body = "<title>Café crème</title><p>x</p>".encode("cp1252")
    assert analyse(body, encoding="windows-1252").title == "Café crème"


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"", "empty"),
        (b"   \n\t ", "empty"),
        (b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4, "PNG"),
        (b"%PDF-1.7\n" + bytes(200), "PDF"),
        (bytes(range(32)) * 100, "binary"),
    ],
)
def test_binary_or_empty_input_gives_clean_with_error(body: bytes, message: str) -> None:
    analysis = analyse(body)
    assert analysis.verdict == "clean"
    assert analysis.error and message in analysis.error


def test_str_input_and_truncated_html() -> None:
    analysis = analyse("<html><head><title>Half a page</title></head><body><div><p>cut off mid")
    assert analysis.verdict == "clean"
    assert analysis.title == "Half a page"


@pytest.mark.parametrize("codec", ["utf-8", "gb18030", "utf-16"])
def test_xml_incompatible_characters_in_bytes(codec: str) -> None:
    html = "<title>T\ufffe</title><p>a\x0bb\x01c\uffff</p><div>d</div>"
    analysis = analyse(html.encode(codec), encoding=codec)
    assert analysis.verdict == "clean" and analysis.error is None


def test_deeply_nested_tags_do_not_crash() -> None:
    analysis = analyse("<div>" * 100_000 + "text" + "</div>" * 100_000)
    assert analysis.verdict in ("clean", "suspicious")


def test_huge_page_is_bounded() -> None:
    body = en_page("<p>" + "Lorem ipsum dolor sit amet. " * 800_000 + "</p>").encode()
    assert len(body) > 20_000_000
    analysis = analyse(body)
    assert analysis.verdict == "clean"


def test_content_after_closing_html_is_analysed() -> None:
    html = en_page("") + (
        "<iframe src='https://slot-gacor88.example/' style='position:fixed;top:0;left:0;"
        "width:100%;height:100%;z-index:9999'></iframe>"
    )
    assert "iframe_overlay" in kinds(analyse(html, "https://www.springfield.gov/roads"))


# ------------------------------------------------------------------ 1. title / meta


def test_title_prefix_injection() -> None:
    analysis = analyse(
        page("", title="【金沙娱乐·(中国)官方网站】市教育局关于做好秋季开学工作的通知")
    )
    assert "title_injection" in kinds(analysis)
    assert analysis.verdict == "hijacked"


def test_title_suffix_injection_english() -> None:
    analysis = analyse(
        en_page("", title="Road Resurfacing Schedule - Best Online Casino Free Spins")
    )
    assert "title_injection" in kinds(analysis)


def test_unlisted_brand_in_title() -> None:
    analysis = analyse(en_page("", title="BetNova - Road Resurfacing Schedule"))
    assert "title_injection" in kinds(analysis)
    for honest in ("Spinning Classes - Road Resurfacing Schedule", "Las Vegas Trip - Roads"):
        assert analyse(en_page("", title=honest)).verdict == "clean", honest


def test_title_as_numeric_entities_is_decoded() -> None:
    spam = "".join(f"&#{ord(c)};" for c in "百家乐真人娱乐官网")
    analysis = analyse(page("", title=spam + "_市教育局"))
    assert "title_injection" in kinds(analysis)


def test_meta_keywords_injection() -> None:
    head = "<meta name='keywords' content='百家乐,真人视讯,澳门赌场,体育平台,彩票app'>"
    assert "meta_injection" in kinds(analyse(page("", head=head)))


def test_crackdown_news_title_is_not_injection() -> None:
    title = "警方捣破非法网上赌场 拘捕十二人"
    body = (
        "<p>警方昨日捣破一个非法网上赌场集团，拘捕十二名涉案人士。经查，该团伙以“百家乐”"
        "“真人视讯”等名义招揽赌客，涉嫌非法赌博。</p><p>警方提醒市民切勿参与网上赌博。</p>"
    )
    analysis = analyse(page(body, title=title))
    assert analysis.verdict == "clean", analysis.findings


def test_lottery_operator_official_site_is_clean() -> None:
    body = "<p>中国福利彩票官方网站发布第2024101期双色球开奖公告，本期销售额3.8亿元。</p>"
    analysis = analyse(page(body, title="中国福利彩票官方网站"))
    assert analysis.verdict == "clean", analysis.findings


# ------------------------------------------------------------------ 2. hidden content


HIDDEN_SPAM = (
    "<a href='https://bet365-cn.example/'>百家乐</a><a href='https://vns88.example/'>威尼斯人官网</a>"
    "<a href='https://jinsha.example/'>金沙娱乐城</a>"
)


@pytest.mark.parametrize(
    "style",
    [
        "display:none",
        "visibility:hidden",
        "position:absolute;left:-9999px;top:-9999px",
        "text-indent:-9999px",
        "font-size:0",
        "height:1px;overflow:hidden",
        "opacity:0",
    ],
)
def test_hidden_spam_links_by_inline_style(style: str) -> None:
    analysis = analyse(
        page(f"<div style='{style}'>{HIDDEN_SPAM}</div>"), "https://jyj.example.gov.cn/a"
    )
    assert "hidden_links" in kinds(analysis)
    assert analysis.verdict == "hijacked"
    assert "bet365-cn.example" in analysis.summary.hidden_link_domains


def test_hidden_spam_links_by_stylesheet_class() -> None:
    head = "<style>.abc1 { position:absolute; top:-3000px }</style>"
    analysis = analyse(page(f"<div class='abc1'>{HIDDEN_SPAM}</div>", head=head))
    assert "hidden_links" in kinds(analysis)


def test_shrunk_marquee_is_hidden() -> None:
    analysis = analyse(page(f"<marquee height=1 width=1>{HIDDEN_SPAM}</marquee>"))
    assert "hidden_links" in kinds(analysis)


def test_script_written_hidden_block() -> None:
    payload = "".join(
        f"%{b:02X}" for b in f"<div style='display:none'>{HIDDEN_SPAM}</div>".encode()
    )
    analysis = analyse(page(f"<script>document.write(unescape('{payload}'));</script>"))
    assert "hidden_links" in kinds(analysis)


def test_hidden_menu_modal_cookie_banner_sr_only_are_clean() -> None:
    body = (
        "<ul class='submenu' style='display:none'><li><a href='/a'>学校概况</a></li>"
        "<li><a href='/b'>招生信息</a></li></ul>"
        "<div class='modal' style='display:none'><p>确定要退出登录吗？</p></div>"
        "<div id='cookie' style='display:none'>本网站使用cookie以改善体验。"
        "<a href='/privacy'>了解更多</a></div>"
        "<a class='sr-only' style='position:absolute;width:1px;height:1px;overflow:hidden;"
        "clip:rect(0,0,0,0)' href='#main'>跳到主要内容</a>"
        "<div hidden><a href='https://www.sponsor-bank.example/'>Sponsor Bank</a>"
        "<a href='https://dental.example.org/'>Northside Dental</a></div>"
        "<template><a href='https://x.example/'>tpl</a></template>"
        "<noscript><img src='https://pixel.example/p.gif'></noscript>"
    )
    analysis = analyse(page(body), "https://jyj.example.gov.cn/a")
    assert analysis.verdict == "clean", analysis.findings
    assert not analysis.findings


# ------------------------------------------------------------------ 3. template debris


def test_random_id_debris() -> None:
    debris = (
        "<big id='x7k2q'></big><td id='x7k2q'><strike id='x7k2q'></strike></td>"
        "<p id='x7k2q'><del id='x7k2q'></del></p><option id='x7k2q'></option>"
    )
    analysis = analyse(page(debris))
    assert "template_debris" in kinds(analysis)
    assert analysis.verdict == "hijacked"


def test_sloppy_duplicate_ids_are_not_debris() -> None:
    body = "".join(f"<div id='item'><p>第{i}条新闻内容</p></div>" for i in range(8))
    body += "<span id='date'>2024</span><span id='date'>2023</span>"
    analysis = analyse(page(body))
    assert "template_debris" not in kinds(analysis)
    assert analysis.verdict == "clean"


# ------------------------------------------------------------------ 4. injected text


def test_keyword_chain_footer() -> None:
    analysis = analyse(
        page(
            "<div class='f'>精品久久久久久久久_一级全黄少妇性色生活片_"
            "免费国产香蕉视频在线观看</div>"
        )
    )
    assert "keyword_stuffing" in kinds(analysis)
    assert analysis.verdict == "hijacked"


def test_spam_paragraph_in_english_page() -> None:
    body = (
        "<p>Best online casino: free spins no deposit bonus codes, claim your casino bonus now.</p>"
    )
    assert "injected_text" in kinds(analyse(en_page(body)))


def test_link_farm_of_spam_anchors() -> None:
    links = "".join(
        f"<li><a href='https://site{i}.example/'>{a}</a></li>"
        for i, a in enumerate(
            [
                "slot gacor maxwin",
                "situs judi online",
                "togel online",
                "judi bola",
                "rtp slot live",
                "bandar togel",
            ]
        )
    )
    analysis = analyse(en_page(f"<ul>{links}</ul>"), "https://www.springfield.gov/")
    assert "link_farm" in kinds(analysis)


def test_friend_links_to_other_gov_sites_are_clean() -> None:
    links = "".join(
        f"<a href='https://www.{d}.gov.cn/'>{n}</a>"
        for d, n in [
            ("beijing", "北京市人民政府"),
            ("shanghai", "上海市人民政府"),
            ("moe", "教育部"),
            ("gd", "广东省人民政府"),
            ("zj", "浙江省人民政府"),
            ("js", "江苏省人民政府"),
        ]
    )
    analysis = analyse(
        page(f"<div class='links'>友情链接：{links}</div>"), "https://jyj.example.gov.cn/"
    )
    assert analysis.verdict == "clean", analysis.findings


@pytest.mark.parametrize(
    ("title", "body"),
    [
        (
            "Sands revenue rises as Macau casino visitors return",
            "Las Vegas Sands reported third-quarter revenue of $2.7 billion, as casino operators "
            "in Macau saw visitor numbers recover. Analysts said the company's online casino plans "
            "remain on hold while regulators review licence applications.",
        ),
        (
            "Sildenafil: uses, dosage and side effects",
            "Sildenafil (Viagra) is a prescription medicine for erectile dysfunction. Patients "
            "should discuss side effects and dosage with their doctor. Do not buy medicine from "
            "websites that sell it without a prescription.",
        ),
        (
            "Study of illegal gambling advertising on university websites",
            "Our research group analysed 10,000 university websites and found that many were "
            "compromised with hidden links to online casino, slot gacor and judi bola sites. "
            'Typical injected anchors included "slot gacor maxwin", "situs judi online '
            'terpercaya" and "togel hongkong". We reported the affected sites to their webmasters.',
        ),
    ],
    ids=["casino-business-news", "medical-sildenafil", "security-advisory-quoting-spam"],
)
def test_english_look_alikes_are_clean(title: str, body: str) -> None:
    analysis = analyse(en_page(f"<p>{body}</p>", title=title))
    assert analysis.verdict == "clean", analysis.findings


def test_indonesian_campus_slot_waktu_is_clean() -> None:
    html = (
        "<html><head><title>Jadwal Kuliah Semester Ganjil - Universitas Negeri</title></head><body>"
        "<h1>Pengisian KRS</h1><p>Mahasiswa dapat memilih slot waktu kuliah melalui portal "
        "akademik. Slot waktu praktikum terbatas, silakan daftar sebelum tanggal 20 Agustus.</p>"
        "</body></html>"
    )
    assert analyse(html).verdict == "clean"


def test_brand_phrase_pasted_into_sentences() -> None:
    body = (
        "<p>今年全区计划改造老旧小区86个，乐鱼体育官网目前已完工79个。</p>"
        "<p>地铁12号线是我市首条环线地铁，乐鱼体育官网全长59.9公里。</p>"
        "<p>据统计，国庆假期七天乐鱼体育官网累计接待游客112.6万人次。</p>"
    )
    assert "injected_text" in kinds(analyse(page(body)))


def test_unlisted_brand_repeated_in_text() -> None:
    body = (
        "<p>Crews will repave SpinRoyale the northbound lanes first.</p>"
        "<p>Parking SpinRoyale on Elm Street is suspended during the work.</p>"
    )
    assert "injected_text" in kinds(analyse(en_page(body)))


def test_headline_repeated_with_spam_prefix() -> None:
    body = "<p>【鼎盛88官网】关于做好2024年秋季学期开学工作的通知</p>" * 2
    analysis = analyse(page(body, title="关于做好2024年秋季学期开学工作的通知_市教育局"))
    assert "injected_text" in kinds(analysis)


def test_ordinary_words_that_look_like_brands_are_clean() -> None:
    body = (
        "<p>BETWEEN the two BETWEEN options, Boeing engineers chose the BetaBeat layout.</p>"
        "<p>Firmware fe88 replaced fe88 builds; SR388 and SR388 remain supported.</p>"
    )
    assert analyse(en_page(body)).verdict == "clean"


def test_headline_run_and_numbered_brand() -> None:
    heads = ["กรมอุตุฯเตือนฝนตกหนักภาคใต้", "ทีมชาติไทยเตรียมลุยศึกชิงแชมป์", "ราคายางพาราปรับตัวขึ้น",
             "เทศกาลลอยกระทงคึกคักทั่วประเทศ"]  # fmt: skip
    html = (
        "<html><head><title>เชียงรายอากาศหนาว</title></head><body><ul>"
        + "".join(f"<li><a href='/n/{i}'>{h}</a></li>" for i, h in enumerate(heads))
        + "</ul><p>อุณหภูมิที่ยอดดอยลดลงเหลือ ซุปเปอร์สล็อต8888 องศาเซลเซียส</p>"
        f"<p>{' '.join(heads)}</p></body></html>"
    )
    analysis = analyse(html)
    assert {"link_farm", "injected_text"} <= kinds(analysis)
    assert analysis.verdict == "hijacked"


# ------------------------------------------------------------------ 5. redirects


def test_meta_refresh_to_other_site() -> None:
    head = "<meta http-equiv='refresh' content='0;url=https://www.vns888.example/'>"
    analysis = analyse(page("", head=head), "https://jyj.example.gov.cn/a")
    assert "meta_refresh" in kinds(analysis)
    assert analysis.summary.redirect_to == "https://www.vns888.example/"


def test_meta_refresh_same_site_is_clean() -> None:
    head = "<meta http-equiv='refresh' content='0;url=https://jyj.example.gov.cn/en/'>"
    analysis = analyse(page("", head=head), "https://www.jyj.example.gov.cn/a")
    assert analysis.verdict == "clean"
    assert analysis.summary.redirect_to is None


@pytest.mark.parametrize(
    "head",
    [
        "<link rel='amphtml' href='http://slot-gacor88.example/amp/'>",
        "<link rel='canonical' href='https://judibola88.example/daftar'>",
        "<link rel='alternate' hreflang='id' href='https://bet88.example/'>",
        "<base href='http://slot-gacor88.example/'>",
    ],
    ids=["amphtml", "canonical", "hreflang", "base"],
)
def test_canonical_or_amp_address_of_a_spam_site(head: str) -> None:
    """The AMP hijack: search engines are told the page lives on a casino's site."""
    for url in ("https://jyj.example.gov.cn/a", ""):  # a saved page: no URL to compare
        analysis = analyse(
            en_page("", title="Road Resurfacing Schedule").replace("</title>", "</title>" + head),
            url,
        )
        assert "canonical_hijack" in kinds(analysis), (url, analysis.findings)
        assert analysis.verdict == "hijacked"


def test_canonical_amp_and_language_alternates_of_ordinary_sites_are_clean() -> None:
    head = (
        "<link rel='canonical' href='https://www.springfield.example/roads'>"
        "<link rel='amphtml' href='https://amp.springfield-news.example/roads'>"
        "<link rel='alternate' hreflang='es' href='https://es.springfield.example/roads'>"
        "<link rel='alternate' type='application/rss+xml' href='https://feeds.example/rss'>"
    )
    page_ = en_page("").replace("</title>", "</title>" + head)
    assert analyse(page_, "https://www.springfield.example/roads").verdict == "clean"
    assert analyse(page_).verdict == "clean"


def test_spam_links_in_noscript_are_hidden_links() -> None:
    """Only visitors without JavaScript (crawlers) see a <noscript>: kits put links there."""
    links = "".join(
        f"<a href='https://slot{n}.example/'>slot gacor maxwin {n}</a>" for n in range(4)
    )
    analysis = analyse(en_page(f"<noscript>{links}</noscript>"), "https://city.example/a")
    assert "hidden_links" in kinds(analysis) and analysis.verdict == "hijacked"
    assert "<noscript> (shown only without JavaScript)" in analysis.findings[0].evidence


def test_noscript_pixels_and_notices_are_clean() -> None:
    body = (
        "<noscript><img height='1' width='1' style='display:none' "
        "src='https://www.facebook.com/tr?id=1&ev=PageView&noscript=1'/></noscript>"
        "<noscript><iframe src='https://www.googletagmanager.com/ns.html?id=GTM-X' height='0' "
        "width='0' style='display:none;visibility:hidden'></iframe></noscript>"
        "<noscript>Please enable JavaScript to view the <a href='https://disqus.com/?ref_"
        "noscript'>comments powered by Disqus.</a></noscript>"
    )
    analysis = analyse(en_page(body), "https://city.example/a")
    assert analysis.verdict == "clean" and not analysis.findings


@pytest.mark.parametrize(
    "where",
    [
        ("<body>", '<body onload="{code}">'),
        ("<main>", '<main><img src=x onerror="{code}">'),
        ("<main>", "<main><svg onload='{code}'></svg>"),
    ],
    ids=["body-onload", "img-onerror", "svg-onload"],
)
def test_event_handlers_are_read_as_scripts(where: tuple[str, str]) -> None:
    code = (
        "if(document.referrer.indexOf(&quot;google&quot;)>-1)"
        "{location.href=&quot;https://www.amjs888.example/&quot;}"
    )
    old, new = where
    html = en_page("").replace(old, new.format(code=code), 1)
    analysis = analyse(html, "https://city.example/a")
    assert "script_redirect" in kinds(analysis) and analysis.verdict == "hijacked"


def test_a_spam_canonical_after_many_language_alternates_is_seen() -> None:
    head = (
        "".join(
            f"<link rel='alternate' hreflang='x{n}' href='https://city.example/{n}/'>"
            for n in range(60)
        )
        + "<link rel='canonical' href='http://slot-gacor88.example/'>"
    )
    analysis = analyse(en_page("").replace("</title>", "</title>" + head), "https://city.example/a")
    assert "canonical_hijack" in kinds(analysis)


def test_full_screen_iframe_overlay() -> None:
    body = (
        "<iframe src='https://bet-site.example/m/' style='position:fixed;top:0;left:0;width:100%;"
        "height:100%;z-index:9999'></iframe>"
    )
    assert "iframe_overlay" in kinds(analyse(page(body), "https://jyj.example.gov.cn/a"))


def test_map_and_video_iframes_are_clean() -> None:
    body = (
        "<div style='position:relative;padding-top:56%'><iframe src='https://www.youtube.com/embed/x'"
        " style='position:absolute;top:0;left:0;width:100%;height:100%'></iframe></div>"
        "<iframe src='https://map.baidu.com/embed?x=1' width='600' height='400'></iframe>"
    )
    assert analyse(page(body), "https://jyj.example.gov.cn/a").verdict == "clean"


def test_referrer_conditioned_script_redirect() -> None:
    script = (
        "<script>var r=document.referrer;if(r.indexOf('baidu')>-1||r.indexOf('sogou')>-1)"
        "{window.location.href='https://www.amjs888.example/';}</script>"
    )
    analysis = analyse(page(script), "https://jyj.example.gov.cn/a")
    assert "script_redirect" in kinds(analysis)
    assert analysis.verdict == "hijacked"
    assert analysis.summary.redirect_to == "https://www.amjs888.example/"


def test_analytics_snippets_are_clean() -> None:
    scripts = (
        "<script>var _hmt=_hmt||[];(function(){var hm=document.createElement('script');"
        "hm.src='https://hm.baidu.com/hm.js?abc';var s=document.getElementsByTagName('script')[0];"
        "s.parentNode.insertBefore(hm,s);})();</script>"
        "<script async src='https://www.googletagmanager.com/gtag/js?id=G-1'></script>"
        "<script>window.dataLayer=window.dataLayer||[];function gtag(){dataLayer.push(arguments);}"
        "gtag('js',new Date());gtag('config','G-1',{page_referrer:document.referrer});</script>"
    )
    analysis = analyse(page(scripts), "https://jyj.example.gov.cn/a")
    assert analysis.verdict == "clean"
    assert not analysis.findings


def test_title_swap_for_crawlers() -> None:
    script = (
        "<script>if(!/baiduspider|googlebot|sogou/i.test(navigator.userAgent))"
        "{document.title='市教育局关于做好秋季开学工作的通知';}</script>"
    )
    analysis = analyse(page(script, title="澳门新葡京_百家乐_真人娱乐官网"))
    assert "title_swap" in kinds(analysis)
    assert analysis.verdict == "hijacked"


# ------------------------------------------------------------------ 6. parasite pages


def test_parasite_page() -> None:
    html = (
        "<html><head><title>Slot Gacor Hari Ini Gampang Maxwin - Situs Judi Online Terpercaya"
        "</title>"
        "</head><body><h1>Daftar Situs Slot Gacor Maxwin</h1><p>Situs judi slot online terpercaya "
        "dengan RTP live tertinggi, deposit pulsa tanpa potongan, bocoran slot gacor dan link "
        "alternatif. Togel online, judi bola, dan slot88 dalam satu akun. Daftar slot sekarang "
        "dan raih maxwin x500!</p><a href='/daftar'>Daftar</a></body></html>"
    )
    analysis = analyse(html, "https://lppm.example.ac.id/wp-content/uploads/x.html")
    assert "parasite_page" in kinds(analysis)
    assert analysis.verdict == "hijacked"


def test_heading_repeating_injected_title_keeps_injection_findings() -> None:
    """A hijacked article whose <h1> repeats the injected title is not a parasite page:
    the webmaster needs the title and pasted-text evidence."""
    injected = "【pg電子·(中國)娛樂官方網站】別讓外賣平台成噪音污染幫兇"
    debris = (
        "<big id='xk27p'></big><td id='xk27p'><strike id='xk27p'></strike></td>"
        "<p id='xk27p'><del id='xk27p'></del></p><td id='xk27p'><option id='xk27p'></option></td>"
    )
    sentences = [
        "近年來,外賣平台快速擴張,騎手穿{}梭於大街小巷,為市民生活帶來便利。",
        "然而,部分騎手為趕時間頻繁按喇叭,深夜{}送餐的電單車聲響也令不少居民難以入眠。",
        "平台企業追求效率無可厚非,{}但不應以犧牲居民安寧為代價。",
        "有關部門應督促平台優化派單規則,為騎{}手留出合理時間,同時加強夜間噪音管理。",
    ]
    prose = "".join(f"<p>{s.format('pg電子·(中國)娛樂官方網站')}</p>" for s in sentences)
    html = (
        f"<html><head><meta charset='utf-8'><title>{injected}</title>"
        "<meta name='keywords' content='pg電子,pg電子官方網站'></head><body>"
        f"{debris}<div class='news'><h1>{injected}</h1><p>{injected}</p>{prose}</div>"
        "<div class='footer'>精品久久久久久久久_一级全黄少妇性色生活片_"
        f"免费国产香蕉视频在线观看</div>{debris}</body></html>"
    )
    analysis = analyse(html, "http://news.example.hk/news/19035.html")
    assert analysis.verdict == "hijacked"
    assert {"title_injection", "injected_text", "template_debris"} <= kinds(analysis)
    assert "parasite_page" not in kinds(analysis)


def test_parasite_page_whose_h1_repeats_its_title() -> None:
    title = "Slot Gacor Maxwin - Situs Judi Online Terpercaya"
    paragraphs = (
        "Bocoran slot gacor hari ini dengan RTP live tertinggi dan deposit pulsa tanpa potongan.",
        "Togel online, judi bola dan slot88 dalam satu akun, bonus new member 100%.",
        "Agen judi resmi dengan link alternatif anti blokir, daftar sekarang raih jackpot.",
    )
    html = (
        f"<html><head><title>{title}</title></head><body><h1>{title}</h1>"
        + "".join(f"<p>{p}</p>" for p in paragraphs)
        + "</body></html>"
    )
    analysis = analyse(html, "https://lppm.example.ac.id/wp-content/uploads/y.html")
    assert "parasite_page" in kinds(analysis)
    assert analysis.verdict == "hijacked"


def test_every_finding_kind_is_known() -> None:
    analysis = analyse(SEED_PAGE.read_bytes())
    assert all(f.kind in KIND_TECHNIQUE for f in analysis.findings)


# ------------------------------------------------------------------ summary


def test_summary_outbound_domains_and_simhash() -> None:
    body = "<p><a href='https://www.gov.cn/x'>国务院</a> <a href='/local'>本地</a></p>"
    analysis = analyse(page(body), "https://jyj.example.gov.cn/a")
    assert analysis.outbound_domains == ["www.gov.cn"]  # gov.cn is a public suffix
    same = analyse(page(body), "https://jyj.example.gov.cn/a")
    other = analyse(en_page(""), "https://jyj.example.gov.cn/a")
    assert analysis.summary.simhash == same.summary.simhash
    assert hamming(analysis.summary.simhash, other.summary.simhash) > 10
    assert analysis.summary.text_length > 100


def test_ip_host_is_its_own_domain() -> None:
    analysis = analyse(en_page("<a href='http://10.1.2.3/x'>x</a>"), "https://www.springfield.gov/")
    assert analysis.outbound_domains == ["10.1.2.3"]


# ------------------------------------------------------------------ fast paths


@pytest.mark.parametrize(
    "text",
    [
        "深沈的答覆",  # characters t2s changes only inside a phrase
        "娛樂城官方網站 ＡＢＣ\u200bＤ",
        "Plain ASCII Text",
        "caf\xe9\xa0au lait\u3000東京：渋谷（駅）…",
        "สมัครรับโบนัส ฝากถอนไม่มีขั้นต่ำ",  # NFKC decomposes SARA AM
        "𠀀 ext-B and 乾隆 乾淨",
    ],
)
def test_normalise_matches_the_full_pipeline(text: str) -> None:
    """The skip-when-unneeded fast paths give what NFKC, zero-width removal, t2s and
    lower-casing give when all run."""
    full = _ZERO_WIDTH.sub("", unicodedata.normalize("NFKC", text))
    assert normalise(text) == _T2S.convert(full).lower()


def test_brand_tokens_find_what_the_token_regex_finds() -> None:
    text = (
        "MAXWIN88 and slot777, aBc12 ab1cd22 ab_c12 \xe9abc12 SpinRoyale UFABET LuckyJet777 "
        "Slot777x 1ab22 _ab22 ab22_ AB12 Abc BETWEEN BetaBeat x88 88 a88"
    )
    assert sorted(brand_tokens(text)) == sorted(_BRAND_TOKEN.findall(text))
    assert "slot777" in brand_tokens(text) and "MAXWIN88" in brand_tokens(text)


def outputs_per_hash_seed(code: str, arg: str, seeds: tuple[str, ...]) -> set[str]:
    """What ``python -c code arg`` prints under each PYTHONHASHSEED (distinct outputs)."""
    return {
        subprocess.run(
            [sys.executable, "-c", code, arg],
            capture_output=True,
            text=True,
            check=True,
            env={**os.environ, "PYTHONHASHSEED": seed},
            cwd=Path(__file__).resolve().parent.parent,
        ).stdout.strip()
        for seed in seeds
    }


def test_simhash_is_the_same_in_every_process() -> None:
    """Fingerprints are compared across runs: no per-process salted hashing."""
    text = "市教育局关于做好秋季学期开学工作的通知 road resurfacing schedule for elm street " * 20
    code = "import sys; from hijackwatch.detect.summary import simhash; print(simhash(sys.argv[1]))"
    outs = outputs_per_hash_seed(code, text, ("1", "2"))
    assert outs == {str(simhash(text))}
    assert simhash(text) != 0


def test_lexicon_finds_cjk_and_thai_terms_after_other_scripts() -> None:
    """The CJK/Thai passes start where the first such character is; terms after
    accented Latin or after the other script must still be found, alone or batched."""
    texts = [
        "café naïve résumé สล็อต and then 时时彩 casino",
        "时时彩 first, สล็อต later",
        "naïve café only",
        "plain ascii casino",
        "",
    ]
    first = scan(texts[0])
    assert {"สล็อต", "时时彩", "casino"} <= set(first.spam_terms)
    assert {"สล็อต", "时时彩"} <= set(scan(texts[1]).spam_terms)
    assert scan(texts[2]).spam_terms == []
    batched = scan_many(texts)
    assert [dict(h.counts) for h in batched] == [dict(scan(t).counts) for t in texts]
    assert [h.covered for h in batched] == [scan(t).covered for t in texts]


def test_injected_phrases_are_the_same_in_every_process() -> None:
    """More title pieces than are kept, all of one length: which ones are kept (and so
    the verdict) must not depend on the process's str hash seed (set order)."""
    title = "_".join(f"开云体育{n:02d}" for n in range(30))
    html = f"<html><head><title>{title}</title></head><body><p>学校新闻</p></body></html>"
    code = (
        "import sys\n"
        "from hijackwatch.detect.detectors import Context\n"
        "from hijackwatch.detect.document import parse\n"
        "print(Context(parse(sys.argv[1])).injected_phrases)\n"
    )
    outs = outputs_per_hash_seed(code, html, ("1", "2", "3", "4"))
    assert len(outs) == 1, outs
    assert outs.pop().count("开云体育") == 20


def test_evidence_names_keywords_as_the_page_spells_them() -> None:
    """The keyword list showed the folded forms (伪物, 时计, 澳门): a webmaster searching
    a Japanese or Traditional Chinese page for them finds nothing."""
    ja = en_page("<p>地域の図書館だより。開館時間のお知らせです。</p>").replace(
        "<title>", "<title>スーパーコピー時計 偽物 激安通販_"
    )
    (finding,) = [f for f in analyse(ja).findings if f.kind == "title_injection"]
    assert "偽物" in finding.evidence.split(":")[0] and "伪物" not in finding.evidence
    zh = page("<p>本校舉辦校園開放日活動。</p>").replace("<title>", "<title>澳門新葡京_澳門賭場_")
    (finding,) = [f for f in analyse(zh).findings if f.kind == "title_injection"]
    keywords = finding.evidence.split(")")[0]
    assert "澳門" in keywords and "澳门" not in keywords


def test_keyword_spelling_never_shows_another_word() -> None:
    """Equal lengths can hide shifts: zero-width characters removed in front, ㎏ -> kg
    behind. The spelling showed 'hotel ' for casino; the folded term is shown instead."""
    text = "\u200b" * 6 + "hotel casino 賭場" + "㎏" * 6
    assert spelled_as(["casino", "赌场"], text) == ["casino", "赌场"]
    assert spelled_as(["赌场"], "新葡京賭場") == ["賭場"]


@pytest.mark.parametrize(
    ("frame", "kind"),
    [
        ('<iframe srcdoc="{links}"></iframe>', "link_farm"),
        ('<iframe width="0" height="0" srcdoc="{links}"></iframe>', "hidden_links"),
        ('<iframe style="display:none" srcdoc="{links}"></iframe>', "hidden_links"),
    ],
)
def test_spam_an_iframe_shows_from_its_srcdoc_is_found(frame: str, kind: str) -> None:
    """A frame's srcdoc is HTML the page shows (no address is fetched): its spam links
    count as written into the page, hidden when the frame is."""
    links = "".join(
        f"<a href='http://slot-gacor{i}.example/'>slot gacor maxwin {i}</a> " for i in range(8)
    )
    page = (
        "<html><head><title>County library</title></head><body><p>Opening hours of the "
        f"county library: nine to five.</p>{frame.format(links=links)}</body></html>"
    )
    analysis = analyse(page.encode(), "http://library.example.gov/")
    assert analysis.verdict == "hijacked"
    (finding,) = [f for f in analysis.findings if f.kind == kind]
    assert finding.evidence.startswith("an <iframe srcdoc> shows 8 links to slot-gacor")


def test_an_ordinary_srcdoc_stays_clean() -> None:
    page = (
        "<html><head><title>County library</title></head><body><p>Opening hours.</p>"
        "<iframe srcdoc=\"<p>Map of the library</p><a href='/contact'>Contact</a>"
        "<a href='https://www.openstreetmap.org/'>OpenStreetMap</a>\"></iframe></body></html>"
    )
    assert analyse(page.encode(), "http://library.example.gov/").verdict == "clean"
