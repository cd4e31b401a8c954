"""Spam vocabulary per language: brands (real-style and invented), keywords, domains, parasite prose.

Every domain is a reserved or invented name; nothing here is ever contacted.
"""

from __future__ import annotations

SPAM = {
    "zh-Hans": {
        "brands": ["pg电子", "金沙9977", "kg娱乐", "澳门威尼斯人", "新葡京", "开云体育", "华体会", "九游会",
                   "鼎盛88", "财神919", "永利3044", "博乐彩", "星空体育", "乐鱼体育", "半岛体育", "ob欧宝"],
        "suffixes": ["官方网站", "官网", "(中国)官方网站", "·(中国)娱乐官方网站", "app下载", "登录入口",
                     "(中国)有限公司", "平台官网"],
        "keywords": ["网上赌场", "百家乐", "真人娱乐", "老虎机", "棋牌游戏", "体育投注", "电子游戏", "彩票平台",
                     "注册送彩金", "首存优惠", "信誉第一", "正规赌博平台"],
        "porn": ["精品久久久久久久久", "一级全黄少妇性色生活片", "免费国产香蕉视频在线观看", "国产精品亚洲一区二区",
                 "日韩av无码中文字幕", "久久综合九色综合网", "亚洲人成网站在线播放", "午夜福利视频"],
        "domains": ["js9977.example", "kgyule8866.vip", "www.pgdz-cn.com", "vns888.example", "hth-app2025.cc",
                    "jyh-sports.example", "xpj2024.invalid", "cs919.example"],
        "parasite": [
            "{brand}是亚洲领先的在线娱乐平台，提供真人视讯、电子游戏、体育投注、彩票等多种游戏，注册即送38元彩金。",
            "{brand}官方网站拥有正规博彩牌照，资金安全有保障，24小时在线客服，存取款极速到账，让您畅玩无忧。",
            "现在登录{brand}app，首存即享100%优惠，最高可领8888元，更有每日返水1.2%，天天都有惊喜。",
            "作为业内信誉最好的娱乐平台之一，{brand}拥有千万会员，百家乐、龙虎斗、老虎机应有尽有。",
            "{brand}备用网址：请收藏本页，如遇无法访问请联系在线客服获取最新登录入口。",
        ],
    },
    "zh-Hant": {
        "brands": ["pg電子", "金沙娛樂城", "威尼斯人", "澳門新葡京", "九州娛樂", "財神娛樂", "鉅城娛樂", "球版娛樂城",
                   "金沙9977", "kg娛樂", "天下第一88", "富遊娛樂城"],
        "suffixes": ["官方網站", "·(中國)娛樂官方網站", "官網", "註冊送體驗金", "線上娛樂城", "app下載"],
        "keywords": ["線上娛樂城", "百家樂", "老虎機", "運彩", "真人荷官", "體育投注", "捕魚機", "註冊送300",
                     "娛樂城推薦", "出金快"],
        "porn": ["精品久久久久久久久", "一級全黃少婦性色生活片", "免費國產香蕉視頻在線觀看", "成人影片免費看",
                 "無碼AV在線", "午夜福利影院"],
        "domains": ["jinsha-tw.example", "vns-casino77.top", "www.pgdz-tw.com", "9z-play.example", "caishen88.invalid"],
        "parasite": [
            "{brand}是台灣最受歡迎的線上娛樂城，提供百家樂、老虎機、運彩、捕魚機等上千款遊戲，新會員註冊即送體驗金。",
            "{brand}出金快速安全，24小時專人客服，全台超過百萬玩家信賴推薦。",
            "立即加入{brand}，首儲1000送1000，每日簽到再領紅包，好運一把抓。",
            "{brand}最新網址不定期更新，請加入官方LINE取得最新登入連結。",
        ],
    },
    "en": {
        "brands": ["MAXWIN88", "SpinRoyale", "LuckyJet777", "VegasKing Casino", "BetNova", "JackpotCity9",
                   "RoyalAce Club"],
        "suffixes": ["Official Site", "Best Online Casino", "Real Money Slots", "Free Spins No Deposit"],
        "keywords": ["online casino real money", "best slot sites", "free spins no deposit", "casino bonus codes",
                     "buy viagra online", "cheap cialis 20mg", "generic viagra no prescription", "replica rolex watches",
                     "swiss replica watches", "free porn videos", "xxx hd", "online pharmacy without prescription",
                     "payday loans no credit check"],
        "porn": ["free porn videos", "xxx hd sex tube", "hot milf porn", "teen sex videos free", "live sex cams"],
        "domains": ["maxwin88-slots.example", "rx-meds-online24.net", "replica-watch-store.example",
                    "spinroyale-casino.xyz", "hd-tube-xxx.example", "bestcasino-list.invalid"],
        "parasite": [
            "Looking for the best online casino for real money? {brand} offers over 3,000 slots, live dealer tables and instant withdrawals.",
            "Sign up today at {brand} and claim a 200% welcome bonus plus 100 free spins, no deposit required.",
            "Buy generic Viagra and Cialis online at the lowest prices. No prescription needed, discreet worldwide shipping, 24/7 support.",
            "Our swiss replica watches are 1:1 copies of Rolex, Omega and Patek Philippe, made with 904L steel and automatic movements.",
            "Play at {brand}, the most trusted casino site of 2024. Fast payouts, huge jackpots and mobile-friendly games.",
        ],
    },
    "id": {
        "brands": ["MAXWIN88", "GACOR77", "SLOT88", "TOGEL303", "JPSLOT99", "NAGA4D", "ZEUS138", "RAJAGACOR"],
        "suffixes": ["Situs Slot Gacor Hari Ini", "Link Slot Gacor Maxwin", "Daftar Slot Online Terpercaya",
                     "Bandar Togel Online Resmi"],
        "keywords": ["slot gacor", "slot gacor maxwin", "situs slot gacor hari ini", "togel online", "bandar togel",
                     "rtp live", "bocoran slot", "scatter hitam", "mahjong ways 2", "slot thailand", "link alternatif",
                     "slot deposit dana", "demo slot x500", "judi bola"],
        "porn": ["bokep indo terbaru", "video bokep viral", "nonton bokep gratis", "bokep jilbab"],
        "domains": ["maxwin88.example", "gacor77-login.xyz", "slot88-resmi.example", "togel303.invalid",
                    "zeus138-link.example", "rajagacor-rtp.store"],
        "parasite": [
            "{brand} adalah situs slot gacor hari ini yang menyediakan link slot gacor maxwin dengan RTP live tertinggi dan peluang menang besar.",
            "Daftar sekarang di {brand} dan nikmati bonus new member 100% serta deposit via dana, ovo dan pulsa tanpa potongan.",
            "Bocoran slot gacor malam ini: pola mahjong ways 2 dan scatter hitam gampang maxwin di {brand}.",
            "{brand} merupakan bandar togel online resmi dengan pasaran lengkap: Hongkong, Singapore, Sydney dan Macau.",
            "Link alternatif {brand} selalu diperbarui agar member bisa login tanpa hambatan, anti nawala dan anti blokir.",
        ],
    },
    "ja": {
        "brands": ["ヴィトン激安", "スーパーコピー専門店", "ブランドコピー市場", "N級品本舗", "ロレックス偽物館", "カジノ王国777"],
        "suffixes": ["激安通販", "代引き専門店", "N級品 口コミ", "最高品質", "送料無料"],
        "keywords": ["スーパーコピー", "激安", "通販", "ルイヴィトン コピー", "ロレックス スーパーコピー", "シャネル 偽物",
                     "エルメス バーキン コピー", "N級品", "代引き", "オンラインカジノ 入金不要ボーナス", "無料エロ動画"],
        "porn": ["無料エロ動画", "人妻 エロ動画", "素人 アダルト動画", "巨乳 無修正"],
        "domains": ["super-copy-jp.example", "vuitton-gekiyasu.invalid", "brandcopy777.example",
                    "nkyuhin-shop.top", "casino-oukoku.example"],
        "parasite": [
            "{brand}はルイヴィトン、シャネル、エルメスなど人気ブランドのスーパーコピー商品を激安価格で通販しております。",
            "当店のN級品は本物と見分けがつかない最高品質で、代引き・後払いにも対応しております。",
            "ロレックス スーパーコピー 時計 激安 通販、2024年新作入荷、送料無料、品質保証。",
            "{brand}なら安心の品質、万が一の不良品は無料で交換いたします。",
        ],
    },
    "vi": {
        "brands": ["789bet", "kubet", "new88", "hi88", "VN88WIN", "shbet", "F8BET", "Mibet99"],
        "suffixes": ["Nhà cái uy tín số 1", "Link vào mới nhất", "Đăng ký nhận 100k", "Trang chủ chính thức"],
        "keywords": ["nhà cái uy tín", "nổ hũ", "tài xỉu", "bắn cá đổi thưởng", "cá cược bóng đá", "đá gà trực tiếp",
                     "casino trực tuyến", "game bài đổi thưởng", "lô đề online", "soi kèo"],
        "porn": ["phim sex", "xem phim sex hay", "clip sex mới nhất"],
        "domains": ["789bet-vn.example", "kubet-link.invalid", "new88vip.example", "hi88-dangky.club", "vn88win.example"],
        "parasite": [
            "{brand} là nhà cái uy tín hàng đầu châu Á, cung cấp cá cược thể thao, casino trực tuyến, nổ hũ và bắn cá đổi thưởng.",
            "Đăng ký tài khoản {brand} ngay hôm nay để nhận 100k tiền thưởng, nạp rút siêu tốc chỉ trong 3 phút.",
            "Link vào {brand} mới nhất không bị chặn, hỗ trợ khách hàng 24/7.",
            "Tham gia tài xỉu, đá gà trực tiếp và game bài đổi thưởng hấp dẫn tại {brand}.",
        ],
    },
    "th": {
        "brands": ["UFABET", "PG SLOT", "SLOTXO99", "BETFLIK68", "JOKER123", "ซุปเปอร์สล็อต888", "MEGA168"],
        "suffixes": ["เว็บตรง ไม่ผ่านเอเย่นต์", "สล็อตแตกง่าย", "สมัครรับโบนัส 100%", "ทางเข้าเล่น"],
        "keywords": ["สล็อต", "สล็อตเว็บตรง", "บาคาร่า", "แทงบอลออนไลน์", "หวยออนไลน์", "เว็บพนัน", "คาสิโนออนไลน์",
                     "สล็อตแตกง่าย", "ฝากถอนไม่มีขั้นต่ำ", "เครดิตฟรี"],
        "porn": ["คลิปหลุด", "หนังโป๊ไทย", "ดูหนังผู้ใหญ่ฟรี"],
        "domains": ["ufabet-th.example", "pgslot-web.invalid", "slotxo99.example", "betflik68th.life", "mega168.example"],
        "parasite": [
            "{brand} เว็บสล็อตเว็บตรง ไม่ผ่านเอเย่นต์ แตกง่าย จ่ายจริง ฝากถอนไม่มีขั้นต่ำ ด้วยระบบอัตโนมัติ",
            "สมัครสมาชิก {brand} วันนี้ รับโบนัส 100% และเครดิตฟรีทันที เล่นได้ทั้งสล็อต บาคาร่า และแทงบอลออนไลน์",
            "{brand} คาสิโนออนไลน์อันดับ 1 ของไทย มีเกมให้เลือกเล่นมากกว่า 1,000 เกม",
            "ทางเข้า {brand} ล่าสุด รองรับมือถือทุกระบบ บริการตลอด 24 ชั่วโมง",
        ],
    },
}

# English parasite pages come in distinct trades with their own vocabulary.
EN_THEMES = {
    "casino": {
        "keywords": ["online casino real money", "best slot sites", "free spins no deposit", "casino bonus codes",
                     "real money slots", "live dealer blackjack", "no deposit bonus 2024"],
        "paras": [
            "Looking for the best online casino for real money? {brand} offers over 3,000 slots, live dealer tables and instant withdrawals.",
            "Sign up today at {brand} and claim a 200% welcome bonus plus 100 free spins, no deposit required.",
            "Play at {brand}, the most trusted casino site of 2024. Fast payouts, huge jackpots and mobile-friendly games.",
            "Our experts ranked the top real money casinos by payout speed, bonus value and game selection. {brand} came out on top.",
        ]},
    "pharma": {
        "keywords": ["buy viagra online", "cheap cialis 20mg", "generic viagra no prescription", "levitra online",
                     "online pharmacy without prescription", "tramadol overnight delivery", "kamagra oral jelly"],
        "paras": [
            "Buy generic Viagra and Cialis online at the lowest prices. No prescription needed, discreet worldwide shipping, 24/7 support.",
            "Cheap Cialis 20mg from a licensed Canadian pharmacy. Order now and get 10 free pills with every purchase.",
            "Generic sildenafil citrate 100mg works in 30 minutes. Bonus pills, fast delivery, no doctor visit required.",
            "Our online drugstore accepts Visa, Mastercard and Bitcoin. Satisfaction guaranteed or your money back.",
        ]},
    "replica": {
        "keywords": ["replica rolex watches", "swiss replica watches", "fake omega seamaster", "best replica handbags",
                     "aaa replica patek philippe", "cheap replica watches uk"],
        "paras": [
            "Our swiss replica watches are 1:1 copies of Rolex, Omega and Patek Philippe, made with 904L steel and automatic movements.",
            "Shop the best replica handbags: Louis Vuitton, Chanel and Hermes copies at factory prices with free shipping.",
            "Every replica Rolex Submariner is tested for 72 hours before shipping. Buy two and save 20%.",
        ]},
    "porn": {
        "keywords": ["free porn videos", "xxx hd sex tube", "hot milf porn", "live sex cams", "amateur porn videos",
                     "free adult movies"],
        "paras": [
            "Watch free porn videos in HD on {brand}. Thousands of new xxx clips added every day, no signup required.",
            "The hottest amateur and milf sex videos streaming free. Join live sex cams with real girls online now.",
            "{brand} is the best free adult tube with full length xxx movies updated hourly.",
        ]},
}

# Spam links are sometimes in a different language than the host page (Indonesian slot spam on a US .edu
# is common), so injected blocks pick their language independently of the host.
SPAM_PATHS = ["/", "/slot-gacor/", "/register", "/?ref=7788", "/app/", "/vip/", "/m/", "/zh-cn/", "/daftar",
              "/link-alternatif/", "/index.html", "/go.php?id=31"]
