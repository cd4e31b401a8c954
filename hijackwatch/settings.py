"""Scrapy settings for hijackwatch: safe defaults for crawling hostile sites.

hijackwatch's own settings are namespaced ``HIJACKWATCH_…``; every one can be set on
the command line (``-s NAME=VALUE``) or in the environment through the CLI.
"""

from __future__ import annotations

BOT_NAME = "hijackwatch"
SPIDER_MODULES = ["hijackwatch.spiders"]
NEWSPIDER_MODULE = "hijackwatch.spiders"

# --- hijackwatch ---------------------------------------------------------------------
HIJACKWATCH_DB_URL = "sqlite:///hijackwatch.db"
HIJACKWATCH_MAX_PAGES = 200  # per site, every profile's fetch of a page counts once
HIJACKWATCH_MAX_DEPTH = 5
HIJACKWATCH_MAX_SITEMAPS = 20  # sitemap files read per site (indexes included)
HIJACKWATCH_SITEMAP_MAX_BYTES = 20 * 1024 * 1024  # after decompression
HIJACKWATCH_BATCH_SIZE = 200
HIJACKWATCH_FLUSH_INTERVAL = 5.0
HIJACKWATCH_NOTIFY_URL = None
HIJACKWATCH_PROGRESS_INTERVAL = 30.0  # seconds between one-line progress reports
HIJACKWATCH_DETECT_MAX_BYTES = 5 * 1024 * 1024  # analyse at most this much of a body

# --- being a careful visitor of hostile sites ------------------------------------------
USER_AGENT = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 "
    "(KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36"
)
ROBOTSTXT_OBEY = False  # owners scan their own sites; spam pages hide behind Disallow too
TELNETCONSOLE_ENABLED = False  # no control port, ever
REMOTE_CONTROL_ENABLED = False
DOWNLOAD_MAXSIZE = 10 * 1024 * 1024  # also bounds decompressed size
DOWNLOAD_WARNSIZE = 2 * 1024 * 1024
DOWNLOAD_TIMEOUT = 30
DNS_TIMEOUT = 15
RETRY_TIMES = 1
REDIRECT_MAX_TIMES = 5
METAREFRESH_ENABLED = False  # a meta refresh is evidence to analyse, not a hop to follow
COOKIES_ENABLED = False
HTTPERROR_ALLOW_ALL = True  # a 404 or 500 page is recorded (and may carry spam too)
CONCURRENT_REQUESTS = 32
CONCURRENT_REQUESTS_PER_DOMAIN = 4
DOWNLOAD_DELAY = 0
DEPTH_PRIORITY = 1  # breadth-first within a site: the homepage's neighbours first
SCHEDULER_DISK_QUEUE = "scrapy.squeues.PickleFifoDiskQueue"
SCHEDULER_MEMORY_QUEUE = "scrapy.squeues.FifoMemoryQueue"
LOG_LEVEL = "INFO"
FEED_EXPORT_ENCODING = "utf-8"

DOWNLOADER_MIDDLEWARES = {
    "hijackwatch.middlewares.boundary.SiteBoundaryMiddleware": 650,
}
ITEM_PIPELINES = {
    "hijackwatch.pipelines.detection.DetectionPipeline": 100,
    "hijackwatch.pipelines.storage.StoragePipeline": 900,
}
EXTENSIONS = {
    "hijackwatch.extensions.progress.ProgressExtension": 500,
}
