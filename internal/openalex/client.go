// Package openalex discovers works on OpenAlex: cursor-paged /works searches, single
// record look-ups by W-id or DOI, and the parsing of --input files. Every request goes
// through a fetch.Doer, so that host politeness and retries live in one place
// underneath.
package openalex

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/docstokg/contentdl/internal/fetch"
	"github.com/docstokg/contentdl/internal/policy"
	"github.com/docstokg/contentdl/internal/providers"
	"github.com/docstokg/contentdl/internal/redact"
)

// Defaults and limits of the client.
const (
	DefaultPerPage = 100
	// MaxPerPage is the largest page size OpenAlex has ever accepted; larger values
	// are clamped to it.
	MaxPerPage = 200
	// MaxResponseBytes bounds a decoded response (a page of 200 full records is a few
	// MiB), to defend against hostile or broken servers.
	MaxResponseBytes = 32 << 20
	// SelectFields is the select= list: the top-level fields Work is built from.
	SelectFields = "id,doi,display_name,title,publication_year,type,ids,open_access,primary_location,best_oa_location,locations,authorships"
)

// ErrNotFound is returned (wrapped) by Lookup when OpenAlex has no such work.
var ErrNotFound = errors.New("openalex: work not found")

// Query selects the works of a search. Search and TopicID may be combined; at least
// one of them is needed. Year bounds are inclusive and 0 means unbounded.
type Query struct {
	Search    string // free text for search=
	TopicID   string // "T10325" or "https://openalex.org/T10325", for filter=topics.id:
	YearStart int
	YearEnd   int
	OAOnly    bool // adds is_oa:true
	MaxWorks  int  // stop after this many works; 0 means all
}

// Client talks to the OpenAlex API. The zero value of every field except Doer is
// usable: BaseURL defaults to providers.OpenAlexBase, PerPage to DefaultPerPage, UserAgent to
// "contentdl", and a nil Logger discards.
type Client struct {
	BaseURL   string
	APIKey    string // sent as api_key= when set
	Mailto    string // sent as mailto= when set (harmless; it names the contact)
	PerPage   int
	UserAgent string
	Doer      fetch.Doer
	Logger    *slog.Logger
	// ExtraSelect adds top-level fields to select= (e.g. "content_urls" for the
	// openalex_content resolver).
	ExtraSelect []string
	// Ledger counts the cost headers of every answer and holds the budget; nil
	// counts nothing.
	Ledger *Ledger
}

type pageJSON struct {
	Meta struct {
		Count      int    `json:"count"`
		NextCursor string `json:"next_cursor"`
	} `json:"meta"`
	Results []rawWork `json:"results"`
}

func (c *Client) baseURL() string {
	b := strings.TrimRight(strings.TrimSpace(c.BaseURL), "/")
	if b == "" {
		return providers.OpenAlexBase
	}
	return b
}

func (c *Client) logger() *slog.Logger {
	if c.Logger == nil {
		return slog.New(slog.DiscardHandler)
	}
	return c.Logger
}

func (c *Client) header() http.Header {
	ua := c.UserAgent
	if ua == "" {
		ua = "contentdl"
	}
	h := http.Header{}
	h.Set("User-Agent", ua)
	h.Set("Accept", "application/json")
	return h
}

// params returns the parameters every request carries: select, api_key and mailto.
func (c *Client) params() url.Values {
	v := url.Values{}
	sel := SelectFields
	for _, f := range c.ExtraSelect {
		sel += "," + f
	}
	v.Set("select", sel)
	if c.APIKey != "" {
		v.Set("api_key", c.APIKey)
	}
	if c.Mailto != "" {
		v.Set("mailto", c.Mailto)
	}
	return v
}

func (q Query) filter() (string, error) {
	var parts []string
	if q.TopicID != "" {
		id := shortID(q.TopicID)
		if len(id) < 2 || (id[0] != 'T' && id[0] != 't') || !allDigits(id[1:]) {
			return "", fmt.Errorf("openalex: topic id %q is not of the form T123", q.TopicID)
		}
		parts = append(parts, "topics.id:T"+id[1:])
	}
	if q.YearStart < 0 || q.YearStart > 9999 || q.YearEnd < 0 || q.YearEnd > 9999 {
		return "", fmt.Errorf("openalex: year bounds %d..%d out of range", q.YearStart, q.YearEnd)
	}
	if q.YearStart > 0 && q.YearEnd > 0 && q.YearStart > q.YearEnd {
		return "", fmt.Errorf("openalex: year start %d is after year end %d", q.YearStart, q.YearEnd)
	}
	if q.YearStart > 0 {
		parts = append(parts, fmt.Sprintf("from_publication_date:%04d-01-01", q.YearStart))
	}
	if q.YearEnd > 0 {
		parts = append(parts, fmt.Sprintf("to_publication_date:%04d-12-31", q.YearEnd))
	}
	if q.OAOnly {
		parts = append(parts, "is_oa:true")
	}
	return strings.Join(parts, ","), nil
}

func (c *Client) searchParams(q Query) (url.Values, error) {
	if strings.TrimSpace(q.Search) == "" && q.TopicID == "" {
		return nil, errors.New("openalex: a search text or a topic id is required")
	}
	if q.MaxWorks < 0 {
		return nil, fmt.Errorf("openalex: max works %d is negative", q.MaxWorks)
	}
	filter, err := q.filter()
	if err != nil {
		return nil, err
	}
	v := c.params()
	if s := strings.TrimSpace(q.Search); s != "" {
		v.Set("search", s)
	}
	if filter != "" {
		v.Set("filter", filter)
	}
	perPage := c.PerPage
	if perPage <= 0 {
		perPage = DefaultPerPage
	}
	perPage = min(perPage, MaxPerPage)
	if q.MaxWorks > 0 && q.MaxWorks < perPage {
		perPage = q.MaxWorks // do not fetch records that will be thrown away
	}
	v.Set("per_page", strconv.Itoa(perPage))
	return v, nil
}

// Search pages through /works with cursor paging and calls fn for each work in order
// until q.MaxWorks works were delivered (0 = all), fn returns an error (which Search
// returns unchanged), or the next cursor is null or a page is empty. It reports
// meta.count through onCount (which may be nil) once, after the first page. A cursor
// that repeats an earlier one stops paging with a warning instead of looping. Records
// without an id are skipped with a warning.
func (c *Client) Search(ctx context.Context, q Query, onCount func(int), fn func(Work) error) error {
	return c.SearchFrom(ctx, q, Paging{}, onCount, fn)
}

// Paging lets a caller resume cursor paging and follow its progress.
type Paging struct {
	// From is the cursor to start at; "" or "*" starts at the beginning. When
	// OpenAlex rejects it (a 4xx answer to the first page), paging starts again from
	// "*" with a warning.
	From string
	// OnPage, when set, is called with the cursor that fetched a page, the page's
	// number and its next cursor ("" at the end), before the page's works are
	// delivered.
	OnPage func(cursor string, page int, next string)
	// Keep, when set, drops the works for which it returns false (another shard's,
	// say) before they are delivered: they do not count against Query.MaxWorks.
	Keep func(workID string) bool
}

// QueryKey identifies a search for a discovery checkpoint: its parameters without
// the cursor, the key and the contact (which do not change what is found).
func (c *Client) QueryKey(q Query) (string, error) {
	v, err := c.searchParams(q)
	if err != nil {
		return "", err
	}
	v.Del("api_key")
	v.Del("mailto")
	v.Del("cursor")
	return v.Encode(), nil
}

// SearchFrom is Search starting at p.From and reporting pages to p.OnPage.
func (c *Client) SearchFrom(ctx context.Context, q Query, p Paging, onCount func(int), fn func(Work) error) error {
	if c.Doer == nil {
		return errors.New("openalex: client has no Doer")
	}
	v, err := c.searchParams(q)
	if err != nil {
		return err
	}
	log := c.logger()
	cursor := p.From
	if cursor == "" {
		cursor = "*"
	}
	seen := map[string]struct{}{cursor: {}}
	delivered := 0
	for page := 1; ; page++ {
		if err := ctx.Err(); err != nil {
			return err
		}
		v.Set("cursor", cursor)
		u := c.baseURL() + "/works?" + v.Encode()
		pg, err := getJSON[pageJSON](ctx, c, u)
		var se *fetch.Error
		if err != nil && page == 1 && cursor != "*" && errors.As(err, &se) && se.Status >= 400 && se.Status < 500 && se.Status != http.StatusTooManyRequests {
			log.Warn("OpenAlex rejected the saved discovery cursor; paging again from the start (saved works are skipped)",
				"status", se.Status)
			cursor, seen = "*", map[string]struct{}{"*": {}}
			page = 0
			continue
		}
		if err != nil {
			return fmt.Errorf("openalex: page %d: %w", page, err)
		}
		log.Debug("openalex page", "page", page, "results", len(pg.Results), "count", pg.Meta.Count, "url", redact.Redact(u))
		if page == 1 && onCount != nil {
			onCount(pg.Meta.Count)
		}
		next := pg.Meta.NextCursor
		if len(pg.Results) == 0 {
			next = ""
		}
		if p.OnPage != nil {
			p.OnPage(cursor, page, next)
		}
		for i := range pg.Results {
			w := pg.Results[i].work()
			if w.ID == "" {
				log.Warn("openalex record without id skipped", "page", page, "index", i)
				continue
			}
			if p.Keep != nil && !p.Keep(w.ID) {
				continue
			}
			if err := fn(w); err != nil {
				return err
			}
			delivered++
			if q.MaxWorks > 0 && delivered >= q.MaxWorks {
				return nil
			}
		}
		if next == "" {
			return nil
		}
		if _, dup := seen[next]; dup {
			log.Warn("openalex returned a cursor it had returned before; stopping", "page", page, "delivered", delivered)
			return nil
		}
		seen[next] = struct{}{}
		cursor = next
	}
}

// Lookup fetches a single work. id is "W123", "https://openalex.org/W123", a bare DOI
// "10.x/y", "doi:10.x/y" or "https://doi.org/10.x/y". A 404 gives an error wrapping
// ErrNotFound.
func (c *Client) Lookup(ctx context.Context, id string) (Work, error) {
	if c.Doer == nil {
		return Work{}, errors.New("openalex: client has no Doer")
	}
	norm, err := parseID(id)
	if err != nil {
		return Work{}, fmt.Errorf("openalex: lookup %q: %w", id, err)
	}
	seg := norm
	if strings.HasPrefix(norm, "10.") {
		seg = "doi:" + EscapeDOIPath(norm)
	}
	u := c.baseURL() + "/works/" + seg + "?" + c.params().Encode()
	raw, err := getJSON[rawWork](ctx, c, u)
	if err != nil {
		var se *fetch.Error
		if errors.As(err, &se) && se.Status == http.StatusNotFound {
			return Work{}, fmt.Errorf("openalex: lookup %s: %w", norm, ErrNotFound)
		}
		return Work{}, fmt.Errorf("openalex: lookup %s: %w", norm, err)
	}
	w := raw.work()
	if w.ID == "" {
		return Work{}, fmt.Errorf("openalex: lookup %s: record has no id", norm)
	}
	return w, nil
}

// MalformedRetries is how many times a 2xx answer whose body does not decode is
// fetched again before giving up. Overloaded API gateways occasionally cut a body
// short; an immediate re-request (still paced by the Doer's host limiter) usually
// heals it, while a body that is always broken still fails quickly.
const MalformedRetries = 2

// decodeError marks a 2xx body that could not be decoded.
type decodeError struct {
	url string // redacted
	err error
}

func (e *decodeError) Error() string { return "decode " + e.url + ": " + e.err.Error() }
func (e *decodeError) Unwrap() error { return e.err }

// getJSON GETs u and decodes a 2xx JSON body into v, re-fetching a body that does not
// decode up to MalformedRetries times (an oversized body is not retried). Errors name
// the redacted URL.
// Every attempt decodes into a fresh value, so nothing of a broken body survives.
func getJSON[T any](ctx context.Context, c *Client, u string) (*T, error) {
	for attempt := 0; ; attempt++ {
		v := new(T)
		err := c.getJSONOnce(ctx, u, v)
		if err == nil {
			return v, nil
		}
		var de *decodeError
		if !errors.As(err, &de) || errors.Is(err, fetch.ErrBodyTooLarge) || attempt >= MalformedRetries || ctx.Err() != nil {
			return nil, err
		}
		c.logger().Warn("openalex answer did not decode; fetching it again", "url", de.url, "attempt", attempt+1, "err", de.err)
	}
}

func (c *Client) getJSONOnce(ctx context.Context, u string, v any) error {
	kind := callKind(u)
	if err := c.Ledger.Reserve(kind); err != nil {
		return err
	}
	resp, err := c.Doer.Get(ctx, policy.ManifestFetch, u, c.header())
	if err != nil {
		c.Ledger.Settle(kind, nil)
		// The Doer's error names the request (fetch.Error: op, host, cause, short URL),
		// so the URL is not repeated here.
		return redact.Error(err)
	}
	c.Ledger.Settle(kind, resp.Header)
	defer fetch.CloseBody(resp)
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return fetch.NewStatusError(resp, u)
	}
	if err := fetch.DecodeJSON(resp.Body, MaxResponseBytes, v); err != nil {
		return &decodeError{url: redact.Redact(u), err: err}
	}
	return nil
}

// callKind prices a request URL: /works?…search=… is a search, another /works?…
// listing is a list call, a single record is free.
func callKind(u string) CallKind {
	p, err := url.Parse(u)
	if err != nil || !strings.HasSuffix(strings.TrimRight(p.Path, "/"), "/works") {
		return CallSingle
	}
	if p.Query().Get("search") != "" {
		return CallSearch
	}
	return CallList
}

// EscapeDOIPath escapes a DOI for use in a URL path, keeping the slashes that
// separate prefix and suffix (as the DOI-keyed APIs expect) and percent-encoding
// everything else that is not allowed in a path segment ('?', '#', '%', spaces, ...).
func EscapeDOIPath(doi string) string {
	parts := strings.Split(doi, "/")
	for i, p := range parts {
		parts[i] = url.PathEscape(p)
	}
	return strings.Join(parts, "/")
}
