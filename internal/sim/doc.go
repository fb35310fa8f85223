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
// two are not counted.
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
//	    faults:
//	      schedules:             # per path, one fault per attempt, then normal
//	        - path: /pdf/W2
//	          attempts: [reset, truncated, ok]
//	      shares:                # then: a seeded fraction of requests
//	        - {fault: "503:1", share: 0.05, path_prefix: /pdf/}
//	        - {fault: slow_body:30s, share: 1, after: 8} # from the 9th request on
//
// Faults are written kind or kind:param: ok, reset, truncated, 503 (503:N adds
// Retry-After N), 429 (429:N), 404, html_as_pdf, slow_headers (slow_headers:50ms),
// slow_body (slow_body:50ms), redirect_loop, gzip_bomb (gzip_bomb:1GiB) and oversize
// (oversize:2GiB).
//
// Requests over a host's capacity get 429 before any fault is considered, and do not
// advance its schedules.
package sim
