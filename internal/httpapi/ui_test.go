package httpapi

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/bsc-sim/bsc/internal/webui"
)

// TestObserverFiles: every file of the web observer is served at /ui/ with
// its content type, the page's content security policy and a validator; a
// file not changed is not sent again; /ui leads to /ui/.
func TestObserverFiles(t *testing.T) {
	h := New(Deps{Token: "secret"}) // reads need no token: neither does the page
	for _, name := range webui.Names() {
		f, _ := webui.Lookup(name)
		path := "/ui/" + name
		if name == webui.Index {
			path = "/ui/"
		}
		t.Run(path, func(t *testing.T) {
			_, w := serve(h, http.MethodGet, path, "")
			hd := w.Header()
			if w.Code != http.StatusOK || w.Body.String() != string(f.Body) {
				t.Fatalf("GET %s: %d, %d bytes; want 200 and the file's %d", path, w.Code, w.Body.Len(), len(f.Body))
			}
			for k, want := range map[string]string{
				"Content-Type":            f.ContentType,
				"Content-Security-Policy": webui.ContentSecurityPolicy,
				"X-Content-Type-Options":  "nosniff",
				"Referrer-Policy":         "no-referrer",
				"Cache-Control":           "no-cache",
				"ETag":                    f.ETag,
			} {
				if got := hd.Get(k); got != want {
					t.Errorf("GET %s: %s %q, want %q", path, k, got, want)
				}
			}
			req := httptest.NewRequest(http.MethodGet, path, nil)
			req.Header.Set("If-None-Match", f.ETag)
			again := httptest.NewRecorder()
			h.ServeHTTP(again, req)
			if again.Code != http.StatusNotModified || again.Body.Len() != 0 {
				t.Errorf("GET %s If-None-Match its ETag: %d with %d bytes, want 304 and none", path, again.Code, again.Body.Len())
			}
		})
	}
	if _, w := serve(h, http.MethodGet, "/ui", ""); w.Code != http.StatusMovedPermanently || w.Header().Get("Location") != "ui/" {
		t.Errorf("GET /ui: %d to %q, want 301 to ui/", w.Code, w.Header().Get("Location"))
	}
	if _, w := serve(h, http.MethodGet, "/ui/nope.js", ""); w.Code != http.StatusNotFound ||
		w.Header().Get("Content-Type") != "application/problem+json" {
		t.Errorf("GET /ui/nope.js: %d %s, want 404 problem", w.Code, w.Header().Get("Content-Type"))
	}
	if _, w := serve(h, http.MethodPost, "/ui/app.js", ""); w.Code != http.StatusMethodNotAllowed {
		t.Errorf("POST /ui/app.js: %d, want 405", w.Code)
	}
}
