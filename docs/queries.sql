-- Ready-made hijackwatch queries. Each works unchanged on SQLite and PostgreSQL.
-- Format: every query starts with a "-- name: <name>" line and ends with ";" on its
-- own at the end of a line (tests split the file on that and run each query on both
-- databases, comparing the answers). Schema: docs/schema.md.

-- name: hijacked_sites_now
-- Sites hijacked in their latest crawl, worst first, with the day the incident opened.
SELECT site, hijacked_pages, pages, hijacked_since, run_id
FROM latest_site_status
WHERE status = 'hijacked'
ORDER BY hijacked_pages DESC, site;

-- name: site_status_overview
-- Every site's status in its latest crawl.
SELECT site, status, pages, hijacked_pages, suspicious_pages, error_pages, run_id
FROM latest_site_status
ORDER BY site;

-- name: open_site_incidents
-- Open site incidents: since when, how many pages now and at worst.
SELECT site, opened_run_id, opened_at, last_seen_run_id, pages, max_pages
FROM open_incidents
WHERE scope = 'site'
ORDER BY opened_at, site;

-- name: open_page_incidents
-- Every hijacked page still open, oldest first.
SELECT site, url, opened_run_id, last_seen_run_id
FROM open_incidents
WHERE scope = 'page'
ORDER BY site, url;

-- name: cleaned_sites
-- Site incidents that were closed (cleaned): how long they lasted, in runs.
SELECT s.key AS site, i.opened_run_id, i.closed_run_id, i.opened_at, i.closed_at, i.max_pages
FROM incidents i
JOIN sites s ON s.id = i.site_id
WHERE i.scope = 'site' AND i.closed_at IS NOT NULL
ORDER BY i.closed_at, s.key;

-- name: new_hijacked_sites_per_run
-- Per run: how many sites were newly hijacked and how many were cleaned.
SELECT r.id AS run_id, r.status, r.new_hijacked_sites, r.cleaned_sites, r.hijacked, r.pages
FROM crawl_runs r
ORDER BY r.id;

-- name: finding_kinds
-- Which techniques are seen most: pages and sites per finding kind.
SELECT kind, pages, urls, sites, findings
FROM finding_kind_counts
ORDER BY pages DESC, kind;

-- name: site_history
-- Every site's status run by run (add "WHERE site = 'example.edu.cn'" for one site).
SELECT run_id, site, status, pages, hijacked_pages, suspicious_pages
FROM site_history
ORDER BY site, run_id;

-- name: cloaked_pages
-- Pages hijacked for some visitor profiles but not for others (cloaking), latest runs.
SELECT s.key AS site, p.url,
       SUM(CASE WHEN p.verdict = 'hijacked' THEN 1 ELSE 0 END) AS hijacked_profiles,
       SUM(CASE WHEN p.verdict IN ('clean', 'suspicious') THEN 1 ELSE 0 END) AS other_profiles
FROM pages p
JOIN sites s ON s.id = p.site_id AND s.last_run_id = p.run_id
GROUP BY s.key, p.url
HAVING SUM(CASE WHEN p.verdict = 'hijacked' THEN 1 ELSE 0 END) > 0
   AND SUM(CASE WHEN p.verdict IN ('clean', 'suspicious') THEN 1 ELSE 0 END) > 0
ORDER BY s.key, p.url;

-- name: problem_pages_latest
-- Every hijacked or suspicious page of the latest runs, one row per URL: the full list
-- behind a report that stops at 500 pages per site.
SELECT s.key AS site, p.url,
       MAX(CASE WHEN p.verdict = 'hijacked' THEN 2 ELSE 1 END) AS hijacked,
       MAX(p.score) AS score, COUNT(*) AS fetches
FROM pages p
JOIN sites s ON s.id = p.site_id AND s.last_run_id = p.run_id
WHERE p.verdict IN ('hijacked', 'suspicious')
GROUP BY s.key, p.url
ORDER BY s.key, p.url;

-- name: hijacked_pages_with_evidence
-- Hijacked pages of the latest runs with each finding (evidence is hostile text).
SELECT s.key AS site, p.url, p.profile, p.score, f.kind, f.severity, f.evidence
FROM pages p
JOIN sites s ON s.id = p.site_id AND s.last_run_id = p.run_id
JOIN findings f ON f.page_id = p.id
WHERE p.verdict = 'hijacked'
ORDER BY s.key, p.url, p.profile, f.kind, f.evidence;

-- name: spam_outbound_domains
-- Outbound domains of hijacked pages: where the injected links point.
SELECT CAST(p.outbound_domains AS TEXT) AS domains, COUNT(*) AS fetches
FROM pages p
WHERE p.verdict = 'hijacked' AND p.outbound_domains IS NOT NULL
GROUP BY CAST(p.outbound_domains AS TEXT)
ORDER BY fetches DESC, domains;

-- name: error_pages_latest
-- Fetch failures in the latest runs (unreachable pages hide nothing, but watch them).
SELECT s.key AS site, p.url, p.profile, p.error
FROM pages p
JOIN sites s ON s.id = p.site_id AND s.last_run_id = p.run_id
WHERE p.verdict = 'error'
ORDER BY s.key, p.url, p.profile;

-- name: evidence_storage
-- How much page-body evidence is kept (prune with `hijackwatch db prune --keep-days N`).
SELECT COUNT(*) AS bodies, COALESCE(SUM(b.size), 0) AS uncompressed_bytes
FROM page_bodies b;
