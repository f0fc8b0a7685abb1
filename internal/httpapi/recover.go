package httpapi

import (
	"fmt"
	"net/http"
	"runtime/debug"

	"github.com/go-chi/chi/v5/middleware"
	"github.com/rs/zerolog/hlog"
)

// recoverer turns a handler panic into a 500 internal problem and one error
// log line with the stack; the stack stays on the server.
func recoverer(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ww, ok := w.(middleware.WrapResponseWriter)
		if !ok {
			ww = middleware.NewWrapResponseWriter(w, r.ProtoMajor)
		}
		defer func() {
			v := recover()
			if v == nil {
				return
			}
			if v == http.ErrAbortHandler {
				panic(v) // net/http's way to abort a response: not a bug
			}
			hlog.FromRequest(r).Error().
				Str("panic", fmt.Sprint(v)).
				Str("stack", string(debug.Stack())).
				Msg("handler panicked")
			if ww.Status() == 0 { // nothing sent yet: the client gets a clean 500
				writeInternal(ww, r)
			}
		}()
		next.ServeHTTP(ww, r)
	})
}
