"""Scrapy settings for hijackwatch: safe defaults for crawling hostile sites.

hijackwatch's own settings are namespaced ``HIJACKWATCH_…``; every one can be set on
the command line (``hijackwatch crawl -s NAME=VALUE`` or ``scrapy crawl hijack -s …``);
only ``HIJACKWATCH_DB_URL`` and ``HIJACKWATCH_LOOPBACK_ONLY`` are also read from the
environment.
"""

from __future__ import annotations

from hijackwatch.middlewares.scripts import DEFAULT_SKIP_HOSTS
from hijackwatch.profiles import BASELINE, BUILTIN_PROFILES, PAGE_MAX_BYTES
from hijackwatch.seeds import loopback_only

BOT_NAME = "hijackwatch"
SPIDER_MODULES = ["hijackwatch.spiders"]
NEWSPIDER_MODULE = "hijackwatch.spiders"

# --- hijackwatch ---------------------------------------------------------------------
HIJACKWATCH_DB_URL = "sqlite:///hijackwatch.db"
HIJACKWATCH_MAX_PAGES = 200  # per site, every profile's fetch of a page counts once
HIJACKWATCH_MAX_DEPTH = 5
HIJACKWATCH_MAX_SITEMAPS = 20  # sitemap files read per site (indexes included)
HIJACKWATCH_SITEMAP_MAX_BYTES = 20 * 1024 * 1024  # after decompression
# open page incidents of a site requested again every run, least recently seen first
# (an unlinked parasite page is otherwise never fetched again, so never closes); counted
# in HIJACKWATCH_MAX_PAGES; 0 = off
HIJACKWATCH_RECHECK_MAX = 200
HIJACKWATCH_BATCH_SIZE = 200
HIJACKWATCH_FLUSH_INTERVAL = 5.0
# s a batch write (retries included) may take before it goes to the spool file and the
# database counts as unavailable (a server that stops answering but keeps the connection)
# (also bounds the run's start: the schema check and creating the run row)
HIJACKWATCH_DB_WRITE_TIMEOUT = 120.0  # 0 = wait as long as it takes
# pages kept in memory while neither the database nor a spool file takes them; past it
# the crawl stops (close reason storage_failed) instead of filling the memory
HIJACKWATCH_UNSAVED_MAX = 2000
HIJACKWATCH_NOTIFY_URL = None
HIJACKWATCH_PROGRESS_INTERVAL = 30.0  # seconds between one-line progress reports
HIJACKWATCH_QUIET = False  # `crawl -q`: only warnings, progress lines and the summary
HIJACKWATCH_DETECT_WORKERS = "auto"  # processes: "auto" = cores - 1, at least 1; 0 = threads
HIJACKWATCH_DETECT_TIMEOUT = 60.0  # seconds one page's analysis may take; 0 = no limit
# tests, benchmarks, the demo: never leave 127.0.0.0/8 (also via env HIJACKWATCH_LOOPBACK_ONLY=1)
HIJACKWATCH_LOOPBACK_ONLY = loopback_only()

# --- being a careful visitor of hostile sites ------------------------------------------
# The baseline visitor (profile "browser"): every other profile is compared with it.
USER_AGENT = BUILTIN_PROFILES[BASELINE].user_agent
DEFAULT_REQUEST_HEADERS = {
    "Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8",
    "Accept-Language": BUILTIN_PROFILES[BASELINE].accept_language,
}
ROBOTSTXT_OBEY = False  # owners scan their own sites; spam pages hide behind Disallow too
TELNETCONSOLE_ENABLED = False  # no control port, ever
REMOTE_CONTROL_ENABLED = False
# also bounds decompressed size; a page past it is cut there and analysed, not dropped
# (hijackwatch.middlewares.bodies): padding must not hide a page
DOWNLOAD_MAXSIZE = PAGE_MAX_BYTES  # as scan's
DOWNLOAD_WARNSIZE = 2 * 1024 * 1024
DOWNLOAD_TIMEOUT = 30
DNS_TIMEOUT = 15
TWISTED_DNS_RESOLVER = "hijackwatch.resolver.TimedHostnameResolver"  # IPv6 too; DNS_TIMEOUT
RETRY_TIMES = 1
# a body shorter than its Content-Length is analysed (flag dataloss, a partial_body note),
# as `hijackwatch scan` does, not dropped
DOWNLOAD_FAIL_ON_DATALOSS = False
REDIRECT_MAX_TIMES = 5
METAREFRESH_ENABLED = False  # a meta refresh is evidence to analyse, not a hop to follow
COOKIES_ENABLED = False
HTTPERROR_ALLOW_ALL = True  # a 404 or 500 page is recorded (and may carry spam too)
CONCURRENT_REQUESTS = 32
CONCURRENT_REQUESTS_PER_DOMAIN = 4
# Outputs of one response processed at once. Scrapy starts that many tasks per
# response (default 100); ours yield one item and a few requests.
CONCURRENT_ITEMS = 8
DOWNLOAD_DELAY = 0
DEPTH_PRIORITY = 1  # breadth-first within a site: the homepage's neighbours first
SCHEDULER_DISK_QUEUE = "scrapy.squeues.PickleFifoDiskQueue"
SCHEDULER_MEMORY_QUEUE = "scrapy.squeues.FifoMemoryQueue"
LOG_LEVEL = "INFO"
FEED_EXPORT_ENCODING = "utf-8"

DOWNLOADER_MIDDLEWARES = {
    "hijackwatch.middlewares.boundary.SiteBoundaryMiddleware": 650,
    # a search visitor keeps its search Referer across redirects, as a browser does
    "scrapy.downloadermiddlewares.redirect.RedirectMiddleware": None,
    "hijackwatch.middlewares.redirects.ProfileRedirectMiddleware": 600,
    # cuts a page view over DOWNLOAD_MAXSIZE instead of dropping it
    "scrapy.downloadermiddlewares.httpcompression.HttpCompressionMiddleware": None,
    "hijackwatch.middlewares.bodies.BoundedCompressionMiddleware": 590,
}
SPIDER_MIDDLEWARES = {
    # below RefererMiddleware (700): profile/script requests keep exactly their own headers
    "hijackwatch.middlewares.profiles.ProfilesMiddleware": 450,
    "hijackwatch.middlewares.scripts.ExternalScriptsMiddleware": 460,
    "hijackwatch.middlewares.bodies.PartialBodyMiddleware": 470,  # notes a cut body
}
ITEM_PIPELINES = {
    "hijackwatch.pipelines.detection.DetectionPipeline": 100,
    "hijackwatch.pipelines.cloaking.CloakingPipeline": 500,
    "hijackwatch.pipelines.storage.StoragePipeline": 900,
}
EXTENSIONS = {
    "hijackwatch.extensions.progress.ProgressExtension": 500,
}

# --- visitor profiles, cloaking, external scripts, render mode (docs/cloaking.md) -------
HIJACKWATCH_PROFILES = (
    "browser,googlebot,googlebot-mobile,baiduspider,search-baidu,search-google-mobile"
)
HIJACKWATCH_PROFILE_MODE = "all"  # all | sample | off
HIJACKWATCH_PROFILE_SAMPLE = 5  # sample mode: pages per site besides the homepage
HIJACKWATCH_CLOAKING_WAIT = 60.0  # s a profile view waits for its browser view
HIJACKWATCH_CLOAKING_MAX_PENDING = 20000  # browser views kept for comparison at once
HIJACKWATCH_SCRIPTS_ENABLED = True  # fetch and analyse external <script src> files
HIJACKWATCH_SCRIPT_MAX_BYTES = 512 * 1024
HIJACKWATCH_SCRIPT_MAX_PER_PAGE = 20
HIJACKWATCH_SCRIPT_MAX_TOTAL = 5000  # distinct scripts per crawl
HIJACKWATCH_SCRIPT_WAIT = 30.0  # s a page waits for its scripts' analyses
HIJACKWATCH_SCRIPT_SKIP_HOSTS = list(DEFAULT_SKIP_HOSTS)  # analytics hosts never fetched
HIJACKWATCH_SCRIPT_ALLOW_HOSTS: list[str] = []  # when set: only scripts on these hosts/networks
HIJACKWATCH_RENDER_ENABLED = False  # headless Chromium for suspicious pages
HIJACKWATCH_RENDER_ALL = False  # render every browser view, not only suspicious ones
HIJACKWATCH_RENDER_MAX_PAGES = 50  # per crawl
HIJACKWATCH_RENDER_PROFILE = "search-baidu"  # UA and search Referer of the rendered visit
HIJACKWATCH_RENDER_TIMEOUT = 15.0  # s per page load
HIJACKWATCH_RENDER_LAUNCH_TIMEOUT = 60.0  # s for Chromium to start (slow on busy hosts)
HIJACKWATCH_RENDER_SETTLE = 3.0  # s scripts may run after load
HIJACKWATCH_RENDER_ALLOW_HOSTS: list[str] = []  # hosts/networks besides the page's own
HIJACKWATCH_RENDER_CHROMIUM = "/usr/bin/chromium"
HIJACKWATCH_RENDER_USER = "nobody"  # as root, Chromium runs as this user (its sandbox needs it)
HIJACKWATCH_RENDER_NO_SANDBOX = False  # True: run Chromium without its sandbox (not advised)
# As root: where Chromium's launcher may run; empty: the first of TMPDIR, /var/tmp and
# ~/.cache/hijackwatch that is not mounted noexec.
HIJACKWATCH_RENDER_LAUNCHER_DIR = ""
