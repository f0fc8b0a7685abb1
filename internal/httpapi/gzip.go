package httpapi

import (
	"bytes"
	"compress/gzip"
	"iter"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"sync"
)

// gzipMinSize is the smallest body compressed for a client that accepts
// gzip. A smaller one fits in one TCP segment with its headers (1460 bytes
// on Ethernet): compressing it would save the client nothing and cost the
// server CPU, which is what it runs short of (BENCHMARKS.md).
const gzipMinSize = 1 << 10

// encodingOffer is the ResponseWriter of a GET or HEAD that came with
// Accept-Encoding: compressBody reads the header, for a large body only.
// Only a whole body is ever compressed, never a stream (events.go writes
// to the connection itself).
type encodingOffer struct {
	http.ResponseWriter
	acceptEncoding []string
}

// Unwrap lets http.ResponseController reach the connection (Flush,
// deadlines) through the wrapper.
func (o *encodingOffer) Unwrap() http.ResponseWriter { return o.ResponseWriter }

// offerGzip keeps the Accept-Encoding of GET and HEAD requests for
// compressBody. Reads are where the large bodies are (lists); other
// requests, the phone actions among them, pass with one comparison, and
// the header is parsed only for a body worth compressing.
func offerGzip(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodGet || r.Method == http.MethodHead {
			if ae := r.Header.Values("Accept-Encoding"); len(ae) > 0 {
				w = &encodingOffer{w, ae}
			}
		}
		next.ServeHTTP(w, r)
	})
}

// acceptsGzip tells whether Accept-Encoding allows gzip: named with a
// non-zero q, or "*" when gzip is not named.
func acceptsGzip(acceptEncoding []string) bool {
	star := false
	for coding, q := range offered(acceptEncoding) {
		switch coding {
		case "gzip", "x-gzip":
			return q > 0
		case "*":
			star = q > 0
		}
	}
	return star
}

// offered yields the items of a list header such as Accept or
// Accept-Encoding ("a;q=0.5, b"), lower-cased and without parameters,
// with their quality: 1 unless given, 0 when malformed.
func offered(values []string) iter.Seq2[string, float64] {
	return func(yield func(string, float64) bool) {
		for _, v := range values {
			for part := range strings.SplitSeq(v, ",") {
				item, params, err := mime.ParseMediaType(strings.TrimSpace(part))
				if err != nil {
					continue
				}
				q := 1.0
				if s, ok := params["q"]; ok {
					if q, err = strconv.ParseFloat(s, 64); err != nil || !(q >= 0 && q <= 1) {
						q = 0
					}
				}
				if !yield(item, q) {
					return
				}
			}
		}
	}
}

// gzipWriters keeps compressors between responses: each holds hundreds of
// kilobytes of state.
var gzipWriters = sync.Pool{New: func() any {
	// BestSpeed: JSON lists shrink about as much as at the default level
	// (a page of 1000 subscribers, 163 KB: 9.8 KB, against 8.8 KB) for
	// less CPU, which is what the server runs short of.
	zw, _ := gzip.NewWriterLevel(nil, gzip.BestSpeed)
	return zw
}}

// compressBody returns body as the response to send: gzip-compressed,
// with its headers set, when it is large and w accepts gzip. A large body
// varies with Accept-Encoding either way, which Vary tells caches.
func compressBody(w http.ResponseWriter, body []byte) []byte {
	if len(body) < gzipMinSize {
		return body
	}
	h := w.Header()
	h.Add("Vary", "Accept-Encoding")
	if o, ok := w.(*encodingOffer); !ok || !acceptsGzip(o.acceptEncoding) {
		return body
	}
	var buf bytes.Buffer
	zw := gzipWriters.Get().(*gzip.Writer)
	defer gzipWriters.Put(zw)
	zw.Reset(&buf)
	// Writes to a bytes.Buffer cannot fail.
	_, _ = zw.Write(body)
	_ = zw.Close()
	h.Set("Content-Encoding", "gzip")
	h.Set("Content-Length", strconv.Itoa(buf.Len()))
	return buf.Bytes()
}
