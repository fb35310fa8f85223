package sim

import (
	"bytes"
	"cmp"
	"compress/gzip"
	"errors"
	"fmt"
	"hash/fnv"
	"html"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// loopParam marks the hops of a redirect loop, so that a loop, once entered, never
// ends however the path's schedule continues.
const loopParam = "sim_loop"

// payload is a response about to be sent.
type payload struct {
	status   int
	ctype    string
	encoding string
	body     io.ReaderAt
	size     int64
	header   map[string]string // a fixed Response's headers
	chunked  bool              // no Content-Length
}

// fixed is the payload of a fixed Response.
func fixed(r Response) payload {
	p := payload{status: r.Status, body: strings.NewReader(r.Body), size: int64(len(r.Body)), header: r.Headers, chunked: r.Chunked}
	if _, ok := r.Headers["Content-Type"]; !ok && r.Body != "" {
		p.ctype = http.DetectContentType([]byte(r.Body))
	}
	return p
}

// response returns the fixed Response of path, if any: one set with SetResponse,
// else the first of the host's Responses that matches.
func (e *endpoint) response(path string) (Response, bool) {
	e.mu.Lock()
	r, ok := e.fixed[path]
	e.mu.Unlock()
	if ok {
		return r, true
	}
	for _, pr := range e.spec.Responses {
		if path == pr.Path || (pr.PathPrefix != "" && strings.HasPrefix(path, pr.PathPrefix)) {
			return pr.Response, true
		}
	}
	return Response{}, false
}

// expand replaces ${name} in a response's headers and body with the base URL of
// the host called name.
func (s *Sim) expand(r Response) Response {
	if !strings.Contains(r.Body, "${") && !strings.Contains(fmt.Sprint(r.Headers), "${") {
		return r
	}
	pairs := make([]string, 0, 2*len(s.all))
	for _, e := range s.all {
		pairs = append(pairs, "${"+e.name+"}", e.url)
	}
	rep := strings.NewReplacer(pairs...)
	r.Body = rep.Replace(r.Body)
	if r.Headers != nil {
		h := make(map[string]string, len(r.Headers))
		for k, v := range r.Headers {
			h[k] = rep.Replace(v)
		}
		r.Headers = h
	}
	return r
}

// SetResponse makes path on the named host (a publisher, "openalex" or
// "unpaywall") answer r, before the host's Responses (on a publisher, whenever no
// fault applies); ${name} is expanded as there. nil removes it. It fails for an
// unknown host or an invalid response.
func (s *Sim) SetResponse(host, path string, r *Response) error {
	for _, e := range s.all {
		if e.name != host {
			continue
		}
		if !strings.HasPrefix(path, "/") {
			return fmt.Errorf("sim: response path %q is not absolute", path)
		}
		e.mu.Lock()
		defer e.mu.Unlock()
		if r == nil {
			delete(e.fixed, path)
			return nil
		}
		v := *r
		if v.Status == 0 {
			v.Status = http.StatusOK
		}
		if err := v.validate(); err != nil {
			return fmt.Errorf("sim: response for %s: %w", path, err)
		}
		e.fixed[path] = s.expand(v)
		return nil
	}
	return fmt.Errorf("sim: no host %q", host)
}

func textPayload(status int, ctype, body string) payload {
	return payload{status: status, ctype: ctype, body: strings.NewReader(body), size: int64(len(body))}
}

// sendOpts are the body faults.
type sendOpts struct {
	truncate bool          // stop halfway, short of Content-Length
	stall    time.Duration // stall halfway for this long
	trickle  time.Duration // one byte per trickle, round and round, no Content-Length
}

// servePublisher serves a publisher path, after the path's next fault if any.
func (e *endpoint) servePublisher(rec *recorder, r *http.Request, now time.Time) {
	s := e.sim
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		rec.Header().Set("Allow", "GET, HEAD")
		writeBody(rec, http.StatusMethodNotAllowed, "text/plain; charset=utf-8", "method not allowed\n")
		return
	}
	path := r.URL.Path
	if hop := r.URL.Query().Get(loopParam); hop != "" {
		rec.fault = string(FaultRedirectLoop)
		next := "1"
		if hop == "1" {
			next = "2"
		}
		redirect(rec, path+"?"+loopParam+"="+next)
		return
	}
	f := e.nextFault(path)
	if f.Kind != FaultOK {
		rec.fault = f.String()
	}
	rt, known := s.cat.routes[e.index][path]
	var opts sendOpts
	switch f.Kind {
	case FaultReset:
		e.cut(rec, "reset", true)
		return
	case FaultNotFound:
		e.send(rec, r, notFoundPage(), opts)
		return
	case FaultUnavailable:
		if f.RetryAfter > 0 {
			e.retryAfter(rec.Header(), now, f.RetryAfter, explicitStyle(e.spec.RetryAfter))
		}
		e.send(rec, r, textPayload(http.StatusServiceUnavailable, "text/html; charset=utf-8",
			"<!DOCTYPE html><html><head><title>503 Service Unavailable</title></head><body><h1>Service Unavailable</h1><p>Please try again later.</p></body></html>\n"), opts)
		return
	case FaultTooMany:
		if f.RetryAfter > 0 {
			e.retryAfter(rec.Header(), now, f.RetryAfter, explicitStyle(e.spec.RetryAfter))
			writeBody(rec, http.StatusTooManyRequests, "text/html; charset=utf-8", "<!DOCTYPE html><html><body><h1>Too Many Requests</h1></body></html>\n")
			return
		}
		e.reject(rec, now, 0)
		return
	case FaultHTMLAsPDF:
		e.send(rec, r, textPayload(http.StatusOK, "application/pdf", challengePage), opts)
		return
	case FaultRedirectLoop:
		redirect(rec, path+"?"+loopParam+"=1")
		return
	case FaultGzipBomb:
		size := f.Size
		if size == 0 {
			size = DefaultGzipBombSize
		}
		bomb, err := s.bomb(size)
		if err != nil {
			e.send(rec, r, textPayload(http.StatusInternalServerError, "text/plain; charset=utf-8", "internal error\n"), opts)
			return
		}
		e.send(rec, r, payload{status: http.StatusOK, ctype: "application/pdf", encoding: "gzip",
			body: bytes.NewReader(bomb), size: int64(len(bomb))}, opts)
		return
	case FaultOversize:
		size := f.Size
		if size == 0 {
			size = DefaultOversizeSize
		}
		id, title := path, "oversize"
		if known && rt.w != nil {
			id, title = rt.w.ID, rt.w.Title
		}
		e.send(rec, r, e.pdfPayload(id, title, max(size, MinPDFSize)), opts)
		return
	case FaultSlowHeaders:
		if !s.pause(r.Context(), e.delay(f)) {
			e.cut(rec, "aborted", false)
			return
		}
	case FaultSlowBody:
		opts.stall = e.delay(f)
	case FaultTruncated:
		opts.truncate = true
	case FaultTrickle:
		opts.trickle = cmp.Or(f.Delay, time.Second)
	}
	if fr, ok := e.response(path); ok {
		e.send(rec, r, fixed(fr), opts)
		return
	}
	p := e.normal(rt, known)
	if e.host.ETags && known && rt.kind == routePDF {
		etag := fmt.Sprintf(`"sim-%s-%d"`, rt.w.ID, rt.w.PDFSize)
		rec.Header().Set("ETag", etag)
		if r.Header.Get("If-None-Match") == etag {
			rec.WriteHeader(http.StatusNotModified)
			return
		}
	}
	e.send(rec, r, p, opts)
}

// explicitStyle is the style of a Retry-After a fault asked for: the host's, or
// seconds when the host sends none by default.
func explicitStyle(st RetryAfterStyle) RetryAfterStyle {
	if st == RetryAfterNone {
		return RetryAfterSeconds
	}
	return st
}

func (e *endpoint) delay(f Fault) time.Duration {
	if f.Delay > 0 {
		return f.Delay
	}
	return e.host.SlowDelay
}

// nextFault counts an attempt on path and returns its fault: the schedule's entry
// for this attempt, else the first share that picks it, else ok.
func (e *endpoint) nextFault(path string) Fault {
	e.mu.Lock()
	n := e.attempts[path]
	e.attempts[path] = n + 1
	served := e.served
	e.served++
	e.mu.Unlock()
	for _, sch := range e.host.Faults.Schedules {
		if sch.Path == path {
			if n < len(sch.Attempts) && sch.Attempts[n].Kind != "" {
				return sch.Attempts[n]
			}
			break
		}
	}
	for i, sh := range e.host.Faults.Shares {
		if sh.Share > 0 && served >= sh.After && strings.HasPrefix(path, sh.PathPrefix) &&
			unitHash(e.sim.sc.Seed, e.name, path, n, i) < sh.Share {
			return sh.Fault
		}
	}
	return Fault{Kind: FaultOK}
}

// unitHash maps its inputs to a uniform number in [0, 1).
func unitHash(seed uint64, host, path string, attempt, rule int) float64 {
	h := fnv.New64a()
	_, _ = fmt.Fprintf(h, "%d|%s|%s|%d|%d", seed, host, path, attempt, rule)
	return float64(splitmix(h.Sum64())>>11) / (1 << 53)
}

// normal is the response a path gives when nothing goes wrong.
func (e *endpoint) normal(rt route, known bool) payload {
	if !known {
		return notFoundPage()
	}
	w := rt.w
	switch rt.kind {
	case routePDF:
		return e.pdfPayload(w.ID, w.Title, w.PDFSize)
	case routeLanding:
		return textPayload(http.StatusOK, "text/html; charset=utf-8", articleHTML(w, rt.pdfURL))
	case routeArticle:
		return textPayload(http.StatusOK, "text/html; charset=utf-8", articleHTML(w, ""))
	case routeBad:
		return textPayload(http.StatusOK, "application/pdf", challengePage)
	}
	return notFoundPage()
}

func (e *endpoint) pdfPayload(id, title string, size int64) payload {
	doc, err := newPDF(e.sim.sc.Seed, id, title, size)
	if err != nil {
		e.sim.log.Error("sim: pdf", "id", id, "err", err)
		return textPayload(http.StatusInternalServerError, "text/plain; charset=utf-8", "internal error\n")
	}
	return payload{status: http.StatusOK, ctype: "application/pdf", body: doc, size: doc.Size()}
}

// send writes p, applying the body faults. A HEAD request gets the headers only.
func (e *endpoint) send(rec *recorder, r *http.Request, p payload, o sendOpts) {
	h := rec.Header()
	if p.ctype != "" {
		h.Set("Content-Type", p.ctype)
	}
	if p.encoding != "" {
		h.Set("Content-Encoding", p.encoding)
	}
	for k, v := range p.header {
		h.Set(k, v)
	}
	if !p.chunked && o.trickle == 0 {
		h.Set("Content-Length", strconv.FormatInt(p.size, 10))
	}
	rec.WriteHeader(p.status)
	if r.Method == http.MethodHead {
		return
	}
	if o.trickle > 0 {
		e.trickle(rec, r, p, o.trickle)
		return
	}
	if p.chunked {
		// Flushing the headers before any byte makes net/http send the body
		// chunked, whatever its size.
		rec.flush()
	}
	end := p.size
	if o.truncate {
		// Send half and return: the server then closes the connection, and the
		// client reads an unexpected EOF short of Content-Length.
		end = p.size / 2
	}
	if o.stall > 0 {
		half := p.size / 2
		if !e.sim.copyRange(rec, p.body, 0, half) {
			return
		}
		rec.flush()
		if !e.sim.pause(r.Context(), o.stall) {
			return
		}
		e.sim.copyRange(rec, p.body, half, end)
		return
	}
	e.sim.copyRange(rec, p.body, 0, end)
}

// trickle sends p's body one byte every d (Options.Sleep, or real time), starting
// over at its end, until the client leaves or the simulator closes.
func (e *endpoint) trickle(rec *recorder, r *http.Request, p payload, d time.Duration) {
	if p.size == 0 {
		return
	}
	b := make([]byte, 1)
	for off := int64(0); ; off = (off + 1) % p.size {
		if _, err := p.body.ReadAt(b, off); err != nil && !errors.Is(err, io.EOF) {
			return
		}
		if _, err := rec.Write(b); err != nil {
			return
		}
		rec.flush()
		if r.Context().Err() != nil || !e.sim.wait(r.Context(), d) {
			return
		}
	}
}

// copyRange streams [from, to) of body in 32 KiB chunks; false on a write error.
func (s *Sim) copyRange(w io.Writer, body io.ReaderAt, from, to int64) bool {
	bp := s.bufs.Get().(*[]byte)
	defer s.bufs.Put(bp)
	buf := *bp
	for off := from; off < to; {
		n := int(min(int64(len(buf)), to-off))
		m, err := body.ReadAt(buf[:n], off)
		if m > 0 {
			if _, werr := w.Write(buf[:m]); werr != nil {
				return false
			}
			off += int64(m)
		}
		if err != nil && (!errors.Is(err, io.EOF) || m == 0) {
			return false
		}
	}
	return true
}

// cut closes the connection before any response byte; with rst, SO_LINGER 0 makes
// the client see a TCP reset instead of an orderly close.
func (e *endpoint) cut(rec *recorder, why string, rst bool) {
	rec.cutConn(why)
	conn, _, err := http.NewResponseController(rec.ResponseWriter).Hijack()
	if err != nil {
		// The connection is already gone, or (never here) HTTP/2: abort the
		// response instead.
		panic(http.ErrAbortHandler)
	}
	if tc, ok := conn.(*net.TCPConn); ok && rst {
		_ = tc.SetLinger(0)
	}
	_ = conn.Close()
}

// bomb returns a gzip stream that inflates to size zero bytes, built once per size.
func (s *Sim) bomb(size int64) ([]byte, error) {
	s.bombMu.Lock()
	defer s.bombMu.Unlock()
	if b, ok := s.bombs[size]; ok {
		return b, nil
	}
	var out bytes.Buffer
	zw, err := gzip.NewWriterLevel(&out, gzip.BestSpeed)
	if err != nil {
		return nil, err
	}
	zero := make([]byte, 64<<10)
	for left := size; left > 0; {
		n := min(left, int64(len(zero)))
		if _, err := zw.Write(zero[:n]); err != nil {
			return nil, err
		}
		left -= n
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}
	s.bombs[size] = out.Bytes()
	return out.Bytes(), nil
}

func redirect(rec *recorder, to string) {
	rec.Header().Set("Location", to)
	writeBody(rec, http.StatusFound, "text/html; charset=utf-8", "<!DOCTYPE html><html><body><a href=\""+html.EscapeString(to)+"\">Found</a></body></html>\n")
}

func notFoundPage() payload {
	return textPayload(http.StatusNotFound, "text/html; charset=utf-8",
		"<!DOCTYPE html><html><head><title>404 Not Found</title></head><body><h1>Not Found</h1><p>The article you requested is not available.</p></body></html>\n")
}

// challengePage is the HTML a bot challenge or error page serves, here mislabelled
// application/pdf.
const challengePage = `<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>Just a moment...</title></head>
<body><h1>Access denied</h1><p>Please verify you are a human to continue to the PDF.</p></body></html>
`

// articleHTML is a work's landing page; with pdfURL it carries citation_pdf_url and
// a download link, without it is an abstract page with no way to the full text.
func articleHTML(w *work, pdfURL string) string {
	t := html.EscapeString(w.Title)
	var b strings.Builder
	b.WriteString("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n<title>" + t + "</title>\n")
	b.WriteString("<meta name=\"citation_title\" content=\"" + t + "\">\n")
	b.WriteString("<meta name=\"citation_doi\" content=\"" + html.EscapeString(w.DOI) + "\">\n")
	b.WriteString("<meta name=\"citation_publication_date\" content=\"" + strings.ReplaceAll(w.Date, "-", "/") + "\">\n")
	if pdfURL != "" {
		b.WriteString("<meta name=\"citation_pdf_url\" content=\"" + html.EscapeString(pdfURL) + "\">\n")
	}
	b.WriteString("</head><body>\n<h1>" + t + "</h1>\n<p>Abstract. We study " + t + ".</p>\n")
	if pdfURL != "" {
		b.WriteString("<p><a href=\"" + html.EscapeString(pdfURL) + "\">Download PDF</a></p>\n")
	} else {
		b.WriteString("<p>Subscribe or purchase to read the full text.</p>\n")
	}
	b.WriteString("</body></html>\n")
	return b.String()
}

// hasResponse reports whether one of the host's Responses answers path.
func (e *endpoint) hasResponse(path string) bool {
	_, ok := e.response(path)
	return ok
}
