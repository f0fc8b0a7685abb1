package httpapi

import (
	"context"
	"crypto/rand"
	"net/http"

	"github.com/rs/zerolog"
	"github.com/rs/zerolog/hlog"
)

// RequestIDHeader carries the request id both ways.
const RequestIDHeader = "X-Request-Id"

// maxRequestIDLen bounds what a client may make us echo and log.
const maxRequestIDLen = 128

type requestIDKey struct{}

// RequestID is the id of the request being served, as sent back in
// X-Request-Id and logged as request_id.
func RequestID(r *http.Request) string {
	id, _ := r.Context().Value(requestIDKey{}).(string)
	return id
}

// requestID echoes the client's X-Request-Id when it is sane, makes one up
// otherwise, and adds it to the request's logger (set up by hlog.NewHandler
// just before) so every log line of the request carries it.
func requestID(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id := r.Header.Get(RequestIDHeader)
		if !saneRequestID(id) {
			id = rand.Text()
		}
		w.Header().Set(RequestIDHeader, id)
		hlog.FromRequest(r).UpdateContext(func(c zerolog.Context) zerolog.Context {
			return c.Str("request_id", id)
		})
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), requestIDKey{}, id)))
	})
}

// saneRequestID accepts 1 to 128 visible ASCII characters: anything else
// could forge log lines or headers.
func saneRequestID(id string) bool {
	if id == "" || len(id) > maxRequestIDLen {
		return false
	}
	for i := 0; i < len(id); i++ {
		if id[i] <= ' ' || id[i] > '~' {
			return false
		}
	}
	return true
}
