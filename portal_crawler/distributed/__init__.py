"""Distributed crawling: many worker processes, on many machines, share one crawl.

`portal-archive enqueue` plans a portal's crawl exactly as a single-process
crawl starts one (the frontier left by killed runs, listing page 1 of each
section, the re-check window) and puts those requests in Redis as a *job*;
`portal-archive worker` processes, anywhere, take requests from the job's
queue (a scrapy-redis scheduler and duplicate filter) and push back what the
spider finds. Everything a single-process spider keeps in memory to walk a
listing (pages claimed, articles claimed, listing repeats, pages walked per
section) lives in Redis under the job, so page N and page N+1 of a listing can
be handled by different workers.

- keys: the Redis key names;
- job: a job's description and its shared state (claims), creation and end;
- queue: the leased request queue, the scheduler and the duplicate filter;
- leases: when a worker may acknowledge a request (its output processed);
- politeness: the per-host delay and concurrency shared by all workers;
- robots: robots.txt fetched once per job and host, shared;
- spider, pipelines: the PortalSpider and pipelines with shared state;
- extension: lease renewal, reclaiming dead workers' leases, closing at the end;
- enqueue, worker, cli: the two commands.

Nothing here imports redis at import time of `portal_crawler.distributed`, so
the single-process crawler works without the `scale` extra installed.
"""
