package sim

import (
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// serveUnpaywall answers GET /v2/{doi}?email=…: 422 without a plausible email, 404
// for unknown DOIs.
func (s *Sim) serveUnpaywall(rec *recorder, r *http.Request, _ time.Time) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		rec.Header().Set("Allow", "GET, HEAD")
		writeJSON(rec, http.StatusMethodNotAllowed, unpaywallError(http.StatusMethodNotAllowed, "use GET"))
		return
	}
	rest, ok := strings.CutPrefix(r.URL.Path, "/v2/")
	if !ok || rest == "" {
		writeJSON(rec, http.StatusNotFound, unpaywallError(http.StatusNotFound, "not found; use /v2/{doi}?email=you@example.org"))
		return
	}
	if !plausibleEmail(r.URL.Query().Get("email")) {
		writeJSON(rec, http.StatusUnprocessableEntity, unpaywallError(http.StatusUnprocessableEntity,
			"Please add a valid email parameter to your request, like ?email=you@example.org"))
		return
	}
	doi := normDOI(rest)
	w := s.cat.byDOI[doi]
	if w == nil || w.unpaywall == nil {
		writeJSON(rec, http.StatusNotFound, unpaywallError(http.StatusNotFound,
			fmt.Sprintf("'%s' is an invalid doi. See https://doi.org/%s", doi, doi)))
		return
	}
	rec.Header().Set("Content-Type", "application/json")
	rec.Header().Set("Content-Length", strconv.Itoa(len(w.unpaywall)))
	rec.WriteHeader(http.StatusOK)
	_, _ = rec.Write(w.unpaywall)
}

func unpaywallError(status int, msg string) map[string]any {
	return map[string]any{"HTTP_status_code": status, "error": true, "message": msg}
}

// plausibleEmail accepts local@domain.tld without spaces.
func plausibleEmail(e string) bool {
	if e == "" || strings.ContainsAny(e, " \t\r\n") {
		return false
	}
	local, domain, ok := strings.Cut(e, "@")
	return ok && local != "" && !strings.Contains(domain, "@") && strings.Contains(domain, ".") &&
		!strings.HasPrefix(domain, ".") && !strings.HasSuffix(domain, ".")
}
