package httpapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strings"
	"unicode/utf8"
)

// Decode reads the request body as exactly one JSON value into dst,
// strictly: a body that is not UTF-8, an unknown field, a value of the
// wrong type, trailing data or an empty body is 400 invalid_request, a
// Content-Type other than JSON (none is taken for JSON) or a
// Content-Encoding (the body is never compressed) is 415
// unsupported_media_type, and a body over the route's limit is 413
// too_large. Pass its error to WriteError.
func Decode(r *http.Request, dst any) error {
	if ct := r.Header.Get("Content-Type"); ct != "" {
		mt, _, err := mime.ParseMediaType(ct)
		if err != nil || mt != "application/json" && !strings.HasSuffix(mt, "+json") {
			return fmt.Errorf("%w: Content-Type must be application/json", errUnsupportedMedia)
		}
	}
	if ce := r.Header.Get("Content-Encoding"); ce != "" && !strings.EqualFold(ce, "identity") {
		return fmt.Errorf("%w: Content-Encoding %q: send the body uncompressed", errUnsupportedMedia, ce)
	}
	body, err := io.ReadAll(r.Body) // bounded by the route's body limit
	if err != nil {
		if tl := tooLarge(err); tl != nil {
			return tl
		}
		return fmt.Errorf("%w: reading the body: %v", errInvalidRequest, err)
	}
	return DecodeJSON(body, dst)
}

// DecodeJSON is Decode's check of one JSON value already read. JSON is
// UTF-8 (RFC 8259): encoding/json would quietly turn invalid bytes into
// U+FFFD, storing what the client never sent, so they are refused.
func DecodeJSON(body []byte, dst any) error {
	if !utf8.Valid(body) {
		return fmt.Errorf("%w: the body is not valid UTF-8", errInvalidRequest)
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(dst); err != nil {
		return decodeError(err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return fmt.Errorf("%w: body must be a single JSON value", errInvalidRequest)
	}
	return nil
}

func decodeError(err error) error {
	if tl := tooLarge(err); tl != nil {
		return tl
	}
	var syntax *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.Is(err, io.EOF):
		return fmt.Errorf("%w: empty body, want a JSON value", errInvalidRequest)
	case errors.Is(err, io.ErrUnexpectedEOF):
		return fmt.Errorf("%w: malformed JSON: body ends early", errInvalidRequest)
	case errors.As(err, &syntax):
		return fmt.Errorf("%w: malformed JSON at byte %d", errInvalidRequest, syntax.Offset)
	case errors.As(err, &typ) && typ.Field != "":
		return fmt.Errorf("%w: field %q: want %s, got %s", errInvalidRequest, typ.Field, typ.Type, typ.Value)
	case errors.As(err, &typ):
		return fmt.Errorf("%w: want %s, got %s", errInvalidRequest, typ.Type, typ.Value)
	}
	// Unknown fields and the like: encoding/json's words are fine for a client.
	return fmt.Errorf("%w: %s", errInvalidRequest, strings.TrimPrefix(err.Error(), "json: "))
}

// tooLarge is the too_large error for a body cut by http.MaxBytesReader,
// nil for any other error.
func tooLarge(err error) error {
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		return fmt.Errorf("%w: body over %d bytes", errTooLarge, mbe.Limit)
	}
	return nil
}
