package cli

import (
	"context"
	"io"
	"log/slog"

	"github.com/docstokg/contentdl/internal/redact"
)

// newLogger builds the stderr logger. Every string attribute and message that holds
// a URL is redacted, as a last line of defence for api keys and emails.
func newLogger(w io.Writer, level, format string) *slog.Logger {
	var lv slog.Level
	switch level {
	case "debug":
		lv = slog.LevelDebug
	case "warn":
		lv = slog.LevelWarn
	case "error":
		lv = slog.LevelError
	default:
		lv = slog.LevelInfo
	}
	opts := &slog.HandlerOptions{Level: lv}
	var h slog.Handler
	if format == "json" {
		h = slog.NewJSONHandler(w, opts)
	} else {
		h = slog.NewTextHandler(w, opts)
	}
	return slog.New(redactHandler{h})
}

type redactHandler struct{ h slog.Handler }

func (r redactHandler) Enabled(ctx context.Context, l slog.Level) bool { return r.h.Enabled(ctx, l) }

func (r redactHandler) Handle(ctx context.Context, rec slog.Record) error {
	out := slog.NewRecord(rec.Time, rec.Level, clean(rec.Message), rec.PC)
	rec.Attrs(func(a slog.Attr) bool {
		out.AddAttrs(cleanAttr(a))
		return true
	})
	return r.h.Handle(ctx, out)
}

func (r redactHandler) WithAttrs(as []slog.Attr) slog.Handler {
	cl := make([]slog.Attr, len(as))
	for i, a := range as {
		cl[i] = cleanAttr(a)
	}
	return redactHandler{r.h.WithAttrs(cl)}
}

func (r redactHandler) WithGroup(name string) slog.Handler { return redactHandler{r.h.WithGroup(name)} }

func cleanAttr(a slog.Attr) slog.Attr {
	v := a.Value.Resolve()
	switch v.Kind() {
	case slog.KindString:
		return slog.String(a.Key, clean(v.String()))
	case slog.KindAny:
		if err, ok := v.Any().(error); ok {
			return slog.String(a.Key, clean(err.Error()))
		}
	case slog.KindGroup:
		g := v.Group()
		cl := make([]any, len(g))
		for i, x := range g {
			cl[i] = cleanAttr(x)
		}
		return slog.Group(a.Key, cl...)
	}
	return a
}

func clean(s string) string { return redact.Text(s) }
