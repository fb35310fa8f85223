package sim

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
)

// OpenAlex paging limits.
const (
	defaultPerPage = 25
	maxPerPage     = 200
	maxPagedResult = 10_000 // page= paging stops here, as on OpenAlex
	cursorPrefix   = "sim1:"
)

// serveOpenAlex answers /works listings and single-record lookups.
func (s *Sim) serveOpenAlex(rec *recorder, r *http.Request, now time.Time) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		rec.Header().Set("Allow", "GET, HEAD")
		writeJSONError(rec, http.StatusMethodNotAllowed, "Method Not Allowed", "use GET")
		return
	}
	switch p := r.URL.Path; {
	case p == "/works" || p == "/works/":
		s.listWorks(rec, r, now)
	case strings.HasPrefix(p, "/works/"):
		s.getWork(rec, r, strings.TrimPrefix(p, "/works/"))
	default:
		writeJSONError(rec, http.StatusNotFound, "404 Not Found", "The requested URL was not found on the server.")
	}
}

// badQuery answers 400 the way OpenAlex words invalid parameters.
func badQuery(rec *recorder, msg string) {
	if !strings.HasSuffix(msg, ".") {
		msg += "."
	}
	writeJSONError(rec, http.StatusBadRequest, "Invalid query parameters error.", msg)
}

// parseSelect returns the selected fields in canonical order (nil: all).
func parseSelect(v string, known []string) ([]string, error) {
	if strings.TrimSpace(v) == "" {
		return nil, nil
	}
	want := map[string]bool{}
	for _, f := range strings.Split(v, ",") {
		f = strings.TrimSpace(f)
		if !slices.Contains(known, f) {
			return nil, fmt.Errorf("%s is not a valid select field; valid fields for select are: %s", f, strings.Join(known, ", "))
		}
		want[f] = true
	}
	var out []string
	for _, k := range known {
		if want[k] {
			out = append(out, k)
		}
	}
	return out, nil
}

// writeWork appends the work's JSON object with the chosen fields.
func writeWork(b *bytes.Buffer, w *work, fields, all []string) {
	if fields == nil {
		fields = all
	}
	b.WriteByte('{')
	for i, f := range fields {
		if i > 0 {
			b.WriteByte(',')
		}
		b.Write(mustJSON(f))
		b.WriteByte(':')
		if v, ok := w.fields[f]; ok {
			b.Write(v)
		} else {
			b.WriteString("null") // a field another listed work has
		}
	}
	b.WriteByte('}')
}

// predicate is one parsed filter.
type predicate func(*work) bool

// parseFilter parses OpenAlex's filter syntax: key:value pairs joined by commas
// (AND), values joined by | (OR), a leading ! negating a value.
func parseFilter(v string) ([]predicate, error) {
	var preds []predicate
	if strings.TrimSpace(v) == "" {
		return nil, nil
	}
	for _, part := range strings.Split(v, ",") {
		key, val, ok := strings.Cut(part, ":")
		key = strings.TrimSpace(key)
		if !ok || strings.TrimSpace(val) == "" {
			return nil, fmt.Errorf("invalid filter %q: want key:value", part)
		}
		var alts []predicate
		for _, alt := range strings.Split(val, "|") {
			neg := strings.HasPrefix(alt, "!")
			p, err := parseFilterValue(key, strings.TrimPrefix(alt, "!"))
			if err != nil {
				return nil, err
			}
			if neg {
				inner := p
				p = func(w *work) bool { return !inner(w) }
			}
			alts = append(alts, p)
		}
		preds = append(preds, func(w *work) bool {
			for _, p := range alts {
				if p(w) {
					return true
				}
			}
			return false
		})
	}
	return preds, nil
}

func parseFilterValue(key, val string) (predicate, error) {
	switch key {
	case "publication_year":
		return yearPredicate(val)
	case "from_publication_date", "to_publication_date":
		d, err := time.Parse("2006-01-02", val)
		if err != nil {
			return nil, fmt.Errorf("invalid filter %s:%s: want a date YYYY-MM-DD", key, val)
		}
		ds := d.Format("2006-01-02")
		if key == "from_publication_date" {
			return func(w *work) bool { return w.Date >= ds }, nil
		}
		return func(w *work) bool { return w.Date <= ds }, nil
	case "is_oa", "open_access.is_oa":
		b, err := strconv.ParseBool(val)
		if err != nil {
			return nil, fmt.Errorf("invalid filter %s:%s: want true or false", key, val)
		}
		return func(w *work) bool { return w.isOA == b }, nil
	case "oa_status", "open_access.oa_status":
		st := strings.ToLower(val)
		return func(w *work) bool { return w.oaStatus == st }, nil
	case "topics.id", "primary_topic.id":
		id := normTopicID(val)
		if id == "" {
			return nil, fmt.Errorf("invalid filter %s:%s: want a topic id such as T10325", key, val)
		}
		primary := key == "primary_topic.id"
		return func(w *work) bool {
			for i, t := range w.TopicIDs {
				if t == id && (!primary || i == 0) {
					return true
				}
			}
			return false
		}, nil
	case "doi", "ids.doi":
		doi := normDOI(val)
		return func(w *work) bool { return w.DOI == doi }, nil
	case "openalex", "ids.openalex", "openalex_id":
		id := normWorkID(val)
		return func(w *work) bool { return w.ID == id }, nil
	case "type":
		t := strings.ToLower(val)
		return func(*work) bool { return t == "article" }, nil
	case "title.search", "display_name.search", "default.search":
		q := strings.ToLower(val)
		return func(w *work) bool { return strings.Contains(strings.ToLower(w.Title), q) }, nil
	}
	return nil, fmt.Errorf("%s is not a valid field to filter by in this simulator", key)
}

// yearPredicate parses 2020, >2019, <2024 or 2019-2021.
func yearPredicate(val string) (predicate, error) {
	bad := fmt.Errorf("invalid filter publication_year:%s: want 2020, >2019, <2024 or 2019-2021", val)
	num := func(s string) (int, bool) {
		n, err := strconv.Atoi(strings.TrimSpace(s))
		return n, err == nil
	}
	switch {
	case strings.HasPrefix(val, ">"):
		n, ok := num(val[1:])
		if !ok {
			return nil, bad
		}
		return func(w *work) bool { return w.Year > n }, nil
	case strings.HasPrefix(val, "<"):
		n, ok := num(val[1:])
		if !ok {
			return nil, bad
		}
		return func(w *work) bool { return w.Year < n }, nil
	}
	if lo, hi, ok := strings.Cut(val, "-"); ok {
		a, ok1 := num(lo)
		b, ok2 := num(hi)
		if !ok1 || !ok2 {
			return nil, bad
		}
		return func(w *work) bool { return w.Year >= a && w.Year <= b }, nil
	}
	n, ok := num(val)
	if !ok {
		return nil, bad
	}
	return func(w *work) bool { return w.Year == n }, nil
}

func encodeCursor(offset int) string {
	return base64.RawURLEncoding.EncodeToString([]byte(cursorPrefix + strconv.Itoa(offset)))
}

func decodeCursor(c string) (int, bool) {
	if c == "*" {
		return 0, true
	}
	raw, err := base64.RawURLEncoding.DecodeString(c)
	if err != nil || !strings.HasPrefix(string(raw), cursorPrefix) {
		return 0, false
	}
	n, err := strconv.Atoi(strings.TrimPrefix(string(raw), cursorPrefix))
	return n, err == nil && n >= 0
}

// listMeta is the meta object of a listing.
type listMeta struct {
	Count          int     `json:"count"`
	DBResponseTime int     `json:"db_response_time_ms"`
	Page           *int    `json:"page"`
	PerPage        int     `json:"per_page"`
	NextCursor     *string `json:"next_cursor"`
	GroupsCount    *int    `json:"groups_count"`
}

// listWorks answers GET /works.
func (s *Sim) listWorks(rec *recorder, r *http.Request, now time.Time) {
	q := r.URL.Query()
	api := s.api
	spec := s.sc.OpenAlex

	api.mu.Lock()
	api.listed++
	throttle := spec.ThrottleEvery > 0 && api.listed%spec.ThrottleEvery == 0
	api.mu.Unlock()
	if throttle {
		rec.fault = string(FaultTooMany)
		style := api.spec.RetryAfter
		if style == RetryAfterNone {
			style = RetryAfterSeconds
		}
		d := time.Duration(max(1, spec.RetryAfterSeconds)) * time.Second
		api.retryAfter(rec.Header(), now, d, style)
		writeJSONError(rec, http.StatusTooManyRequests, "Too Many Requests", "Rate limit exceeded; slow down.")
		return
	}
	if c := q.Get("cursor"); c != "" && api.expired(c) {
		rec.fault = "expired_cursor"
		badQuery(rec, fmt.Sprintf("Invalid cursor %q: it has expired.", c))
		return
	}
	if !s.cost.charge(spec.Cost, strings.TrimSpace(q.Get("search")) != "", rec.Header(), now) {
		rec.fault = string(FaultTooMany)
		writeJSONError(rec, http.StatusTooManyRequests, "Too Many Requests", "Daily budget exhausted; it resets at midnight UTC.")
		return
	}

	perPage := defaultPerPage
	pp := q.Get("per_page")
	if pp == "" {
		pp = q.Get("per-page")
	}
	if pp != "" {
		n, err := strconv.Atoi(pp)
		if err != nil || n < 1 || n > maxPerPage {
			badQuery(rec, fmt.Sprintf("per-page parameter must be between 1 and %d, got %q.", maxPerPage, pp))
			return
		}
		perPage = n
	}
	fields, err := parseSelect(q.Get("select"), s.cat.fields)
	if err != nil {
		badQuery(rec, err.Error())
		return
	}
	preds, err := parseFilter(q.Get("filter"))
	if err != nil {
		badQuery(rec, err.Error())
		return
	}
	if search := strings.ToLower(strings.TrimSpace(q.Get("search"))); search != "" {
		preds = append(preds, func(w *work) bool { return strings.Contains(strings.ToLower(w.Title), search) })
	}

	offset := 0
	var page *int
	cursor, hasCursor := q.Get("cursor"), q.Has("cursor")
	if hasCursor {
		if q.Has("page") {
			badQuery(rec, "Cannot use page parameter with cursor.")
			return
		}
		var ok bool
		if offset, ok = decodeCursor(cursor); !ok {
			badQuery(rec, fmt.Sprintf("Invalid cursor %q.", cursor))
			return
		}
	} else {
		n := 1
		if v := q.Get("page"); v != "" {
			if n, err = strconv.Atoi(v); err != nil || n < 1 {
				badQuery(rec, fmt.Sprintf("Invalid page %q.", v))
				return
			}
		}
		if n*perPage > maxPagedResult {
			badQuery(rec, fmt.Sprintf("Maximum results size of %d records is exceeded. Cursor pagination is required for records beyond %d.", maxPagedResult, maxPagedResult))
			return
		}
		offset, page = (n-1)*perPage, &n
	}

	var matched []*work
	for _, w := range s.cat.works {
		ok := true
		for _, p := range preds {
			if !p(w) {
				ok = false
				break
			}
		}
		if ok {
			matched = append(matched, w)
		}
	}
	results := []*work{}
	if offset < len(matched) {
		results = matched[offset:min(offset+perPage, len(matched))]
	}
	pageNo := offset/perPage + 1
	meta := listMeta{Count: len(matched), DBResponseTime: 1, Page: page, PerPage: perPage}
	last := offset+len(results) >= len(matched)
	if hasCursor && len(results) > 0 && (!last || !spec.LastPageNullCursor) {
		next := encodeCursor(offset + len(results))
		if spec.RepeatCursorPage == pageNo {
			next = cursor
			rec.fault = "repeat_cursor"
		}
		meta.NextCursor = &next
	}

	var b bytes.Buffer
	b.WriteString(`{"meta":`)
	b.Write(mustJSON(meta))
	b.WriteString(`,"results":[`)
	for i, w := range results {
		if i > 0 {
			b.WriteByte(',')
		}
		writeWork(&b, w, fields, s.cat.fields)
	}
	b.WriteString(`],"group_by":[]}`)
	body := b.Bytes()

	if spec.MalformedPage > 0 && spec.MalformedPage == pageNo {
		api.mu.Lock()
		served := api.broken[pageNo]
		malformed := spec.MalformedTimes < 0 || served < spec.MalformedTimes
		if malformed {
			api.broken[pageNo]++
		}
		api.mu.Unlock()
		if malformed {
			rec.fault = "malformed_json"
			body = append(body[:len(body)/2:len(body)/2], `,"results":[{"id":`...)
		}
	}
	rec.Header().Set("Content-Type", "application/json")
	rec.Header().Set("Content-Length", strconv.Itoa(len(body)))
	rec.WriteHeader(http.StatusOK)
	_, _ = rec.Write(body)
}

// getWork answers /works/{id}: W123, an OpenAlex URL, doi:10.x/y or a DOI URL.
func (s *Sim) getWork(rec *recorder, r *http.Request, key string) {
	fields, err := parseSelect(r.URL.Query().Get("select"), s.cat.fields)
	if err != nil {
		badQuery(rec, err.Error())
		return
	}
	var w *work
	lower := strings.ToLower(key)
	if strings.HasPrefix(lower, "doi:") || strings.Contains(lower, "doi.org/") || strings.HasPrefix(lower, "10.") {
		w = s.cat.byDOI[normDOI(key)]
	} else {
		w = s.cat.byID[normWorkID(key)]
	}
	if w == nil {
		writeJSONError(rec, http.StatusNotFound, "404 Not Found", "The requested URL was not found on the server.")
		return
	}
	var b bytes.Buffer
	writeWork(&b, w, fields, s.cat.fields)
	rec.Header().Set("Content-Type", "application/json")
	rec.Header().Set("Content-Length", strconv.Itoa(b.Len()))
	rec.WriteHeader(http.StatusOK)
	_, _ = rec.Write(b.Bytes())
}

// normDOI lowercases a DOI and strips doi:, https://doi.org/ and similar prefixes.
func normDOI(s string) string {
	s = strings.ToLower(strings.TrimSpace(s))
	for _, p := range []string{"doi:", "https://doi.org/", "http://doi.org/", "https://dx.doi.org/",
		"http://dx.doi.org/", "https:/doi.org/", "http:/doi.org/", "doi.org/"} {
		if strings.HasPrefix(s, p) {
			return strings.TrimPrefix(s, p)
		}
	}
	return s
}

// normWorkID turns "W1", "w1" or "https://openalex.org/W1" into "W1".
func normWorkID(s string) string {
	s = strings.TrimSpace(s)
	for _, p := range []string{"https://openalex.org/", "http://openalex.org/", "https:/openalex.org/", "openalex.org/"} {
		s = strings.TrimPrefix(s, p)
	}
	return strings.ToUpper(s)
}

// ExpireCursor makes the next /works listing that asks for cursor answer 400, as
// OpenAlex answers a cursor that has expired; later requests with it are served.
// "*" cannot expire.
func (s *Sim) ExpireCursor(cursor string) {
	if cursor == "" || cursor == "*" {
		return
	}
	s.api.mu.Lock()
	defer s.api.mu.Unlock()
	if s.api.expiredCursors == nil {
		s.api.expiredCursors = map[string]bool{}
	}
	s.api.expiredCursors[cursor] = true
}

// expired reports, once, whether cursor was expired with ExpireCursor.
func (e *endpoint) expired(cursor string) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	if !e.expiredCursors[cursor] {
		return false
	}
	delete(e.expiredCursors, cursor)
	return true
}
