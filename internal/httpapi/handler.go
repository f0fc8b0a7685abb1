package httpapi

import (
	"fmt"
	"net/http"

	"github.com/go-chi/chi/v5"
)

// handler is the one shape of the routes' handlers: it writes its answer,
// or returns the error to answer with and has written nothing. A request
// whose answer is a stream returns nil once the stream ended.
type handler func(w http.ResponseWriter, r *http.Request) error

// handle serves h, answering its error with WriteError.
func handle(h handler) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if err := h(w, r); err != nil {
			WriteError(w, r, err)
		}
	}
}

// need is the router to mount the routes on that need a dependency the
// app may leave out of Deps (a server built for a test gives only what it
// tests). When it is left out (given false), every route mounted on the
// returned router answers 503 unavailable, "no <what>". Deps do not change
// once the server is built, so handlers take for granted what they need.
// A dependency that is there but restarting is the handler's to answer,
// with the lookup's own error.
func need(r chi.Router, given bool, what string) chi.Router {
	if given {
		return r
	}
	err := missing(what)
	return r.With(func(http.Handler) http.Handler {
		return handle(func(http.ResponseWriter, *http.Request) error { return err })
	})
}

// missing is the error of a dependency the app did not give.
func missing(what string) error { return fmt.Errorf("%w: no %s", errUnavailable, what) }
