package httpapi

import (
	"bytes"
	"fmt"
	"net/http"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/bsc-sim/bsc/internal/webui"
)

// The web observer (docs/observer.md) is no API: a page and its files,
// embedded in the binary, served at /ui/ through the same middleware as
// the rest (request id, access log, metrics, load regulation). The page
// reads the API from the browser; reads need no token, so neither do
// these files.

func (s *server) mountUI(r chi.Router) {
	r.Get("/ui", handle(func(w http.ResponseWriter, _ *http.Request) error {
		// Relative, so that a proxy serving bsc under a prefix keeps it.
		w.Header().Set("Location", "ui/")
		w.WriteHeader(http.StatusMovedPermanently)
		return nil
	}))
	r.Get("/ui/", handle(serveUI))
	r.Get("/ui/{file}", handle(serveUI))
}

// serveUI answers one of the observer's files, with the headers that keep
// the page to what bsc serves: its content security policy, no sniffing
// of types, no referrer sent elsewhere. A browser revalidates a file
// (ETag) rather than keep an old one after an upgrade.
func serveUI(w http.ResponseWriter, r *http.Request) error {
	name := chi.URLParam(r, "file")
	f, ok := webui.Lookup(name)
	if !ok {
		return fmt.Errorf("%w: the observer has no file %q", errNotFound, name)
	}
	h := w.Header()
	h.Set("Content-Type", f.ContentType)
	h.Set("Content-Security-Policy", webui.ContentSecurityPolicy)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("Cache-Control", "no-cache")
	h.Set("ETag", f.ETag)
	http.ServeContent(w, r, f.Name, time.Time{}, bytes.NewReader(f.Body))
	return nil
}
