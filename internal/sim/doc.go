// Package sim is a deterministic simulator of the scholarly web for tests, benchmarks
// and users tuning their settings: an OpenAlex-like API, an Unpaywall-like API and N
// publisher hosts, each on its own loopback listener (127.0.0.1, a free port each),
// with hidden rate limits, Retry-After styles, rate-limit headers, scheduled faults
// and exact-size PDFs, all described by a Scenario. Every host counts what it sees
// (Stats), including the requests that arrived while a Retry-After it announced was
// still running (the politeness metric) and, each time such a window ends, how many
// requests were in flight at once until the first one after it was answered (the
// stampede metric: a polite client sends one and waits; see Reopen). Every request
// is logged with its arrival and answer times, and the timeline counts accepted
// requests and 429s per 100 ms and per second.
//
// A test starts one in-process and checks the client against it:
//
//	s, err := sim.Start(sc, sim.Options{Clock: fake.Now})
//	if err != nil { … }
//	defer s.Close()
//	// point the client at s.OpenAlexURL() and s.UnpaywallURL(), run it, then
//	// compare its outcomes with s.Expected() and look at s.Stats().
//
// # Endpoints
//
// The OpenAlex host serves GET /works (search=, filter= with publication_year,
// from_publication_date, to_publication_date, is_oa, oa_status, topics.id, doi and
// openalex; cursor= and page= paging; per_page up to 200; select=) and single
// records at /works/W123, /works/doi:10.x/y and /works/https://doi.org/10.x/y. It
// also serves GET /__stats (the Stats as JSON) and POST /__reset (Sim.Reset); those
// two are not counted. Sim.ExpireCursor makes a cursor answer 400 once, as an
// expired cursor does.
//
// The Unpaywall host serves GET /v2/{doi}?email=…: 422 without a plausible email, 404
// for an unknown DOI.
//
// Each publisher host serves, for the works placed on it, /pdf/W123 (the PDF),
// /landing/W123 (HTML with citation_pdf_url), /article/W123 (an abstract page with
// no way to the full text), /missing/W123 (404) and /bad/W123 (an HTML challenge page
// labelled application/pdf).
//
// # Scenario files
//
// A scenario is YAML (or JSON, which is YAML); unknown keys are errors. Every key is
// optional except at least one host; the defaults are documented on the Scenario
// fields. testdata/scenarios holds examples. The full shape:
//
//	name: demo
//	seed: 7                      # drives every random choice
//	topic: graph neural networks # in every title, so search= finds every work
//	topic_ids: [T10320, T11273]  # for filter=topics.id
//	years: {from: 2018, to: 2024}
//	works:
//	  count: 50
//	  mix:                       # relative weights (shares or counts) per Kind
//	    direct_pdf: 20
//	    unpaywall_only: 6
//	    landing_page: 6
//	    bad_first_location: 6
//	    not_found_then_unpaywall: 6
//	    closed: 6
//	pdf_size: 48KiB              # exact size of every PDF
//	politeness_grace: 10ms       # see Scenario.PolitenessGrace
//	openalex:                    # and unpaywall: the same service keys
//	  capacity: {rps: 10, burst: 10} # hidden token bucket; omitted = unlimited
//	  configured: {rps: 25}      # printed into the contentdl config
//	  retry_after: seconds       # seconds | http-date | none
//	  retry_after_seconds: 0     # 0 = until the bucket has a token again
//	  headers: openalex          # none | openalex | crossref | ietf
//	  latency: 0s                # every answer (429s too) leaves this much later
//	  malformed_page: 2          # OpenAlex only: page 2 is invalid JSON …
//	  malformed_times: 1         # … once (-1: always)
//	  repeat_cursor_page: 3      # page 3 hands back its own cursor
//	  last_page_null_cursor: false # true: no empty page after the last result
//	  throttle_every: 50         # every 50th listing gets 429
//	  cost:                      # OpenAlex only, off by default: 2026 metering
//	    list_usd: 0.0001         # per filter/list page
//	    search_usd: 0.001        # per search= page
//	    allowance_usd: 1         # daily; spent → 429 until midnight UTC
//	hosts:
//	  - name: flaky
//	    weight: 1                # share of the works placed on this host
//	    capacity: {rps: 4, burst: 4}
//	    retry_after: http-date
//	    headers: ietf
//	    slow_delay: 300ms        # default stall of slow_headers / slow_body
//	    etags: true              # PDFs carry an ETag; a matching If-None-Match gets 304
//	    faults:
//	      schedules:             # per path, one fault per attempt, then normal
//	        - path: /pdf/W2
//	          attempts: [reset, truncated, ok]
//	      shares:                # then: a seeded fraction of requests
//	        - {fault: "503:1", share: 0.05, path_prefix: /pdf/}
//	        - {fault: slow_body:30s, share: 1, after: 8} # from the 9th request on
//	    responses:               # fixed answers when no fault applies (first match);
//	      - path: /old/W1        # openalex and unpaywall take them too
//	        status: 302          # default 200; or path_prefix: /old/
//	        headers: {Location: "ftp://127.0.0.1/W1.pdf"}
//	        body: ""             # any bytes; chunked: true sends no Content-Length
//	      - path: /moved/W1      # ${name}: the base URL of the host called name
//	        status: 301
//	        headers: {Location: "${flaky}/pdf/W1"}
//
// Faults are written kind or kind:param: ok, reset, truncated, 503 (503:N adds
// Retry-After N), 429 (429:N), 404, html_as_pdf, slow_headers (slow_headers:50ms),
// slow_body (slow_body:50ms), redirect_loop, gzip_bomb (gzip_bomb:1GiB), oversize
// (oversize:2GiB) and trickle (trickle:50ms: the body one byte at a time, waited out
// with Options.Sleep, with no end).
//
// Requests over a host's capacity get 429 before any fault is considered, and do not
// advance its schedules. A path's fault comes first; then one of the host's
// responses (or one set with Sim.SetResponse) answers, if any matches; then the page
// of the work placed there.
//
// # Listed works
//
// Instead of count and mix, works.list gives the works one by one: each with an id,
// DOI, title and year (all optional) and either a kind and host, placed as a
// generated work of that kind, or kind listed (the default for a work with
// locations) and its own locations, none at all being allowed. A location is a pdf
// and/or a landing path on a host (the landing page may be on landing_host); the pdf
// path serves the work's PDF, the landing path a page that links to it (or an
// abstract page). Unpaywall knows only the works with
// unpaywall locations or an unpaywall_raw answer (sent verbatim, valid JSON or not);
// openalex replaces or adds record fields (JSON values). In both raw forms ${name}
// stands for the base URL of the host called name:
//
//	works:
//	  list:
//	    - {id: W1, kind: landing_page, host: pub1}
//	    - id: W2
//	      title: A listed work
//	      year: 2021
//	      locations:             # OpenAlex's, in order: the first is primary and best
//	        - {host: pub1, pdf: /f/html_as_pdf/W2.pdf}
//	        - {host: pub2, pdf: /ok/W2.pdf, landing: /article/W2}
//	      unpaywall: [{host: pub2, pdf: /repo/W2.pdf}]
//	    - id: W3
//	      unpaywall_raw: '{"doi": "10.5555/sim.3", "best_oa_location": {"url_for_pdf": "${pub1}/x.pdf"'
//	      openalex: {content_urls: '{"pdf": "${pub1}/content/W3.pdf"}'}
//
// Every request is logged with its path and query (Stats, HostStats.Log), an
// api_key value hidden.
package sim
