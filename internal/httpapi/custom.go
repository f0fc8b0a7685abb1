package httpapi

import (
	"fmt"
	"net/http"
	"slices"
	"strings"

	"github.com/go-chi/chi/v5"
)

// customMethods serves Google-style custom methods, POST pattern+":verb",
// where pattern ends in a path parameter whose values may themselves hold
// colons (POST /api/v1/processes/{name}:crash with name "phone:123"). chi's
// own "{name}:crash" would end the parameter at the first colon, so the
// route is served as POST pattern and the verb is cut at the last colon.
// The handler then sees the parameter without the verb, and metrics and the
// OpenAPI test see the documented pattern, e.g.
//
//	s.customMethods(r, "/api/v1/processes/{name}", map[string]handler{"crash": s.crash})
//
// A parameter without colons (POST /api/v1/overload/handlers/{name}:swap)
// can use chi's pattern directly. neverShed, which runs before the verb is
// known, takes the served pattern.
func (s *server) customMethods(r chi.Router, pattern string, verbs map[string]handler) {
	open := strings.LastIndex(pattern, "/{")
	if open < 0 || !strings.HasSuffix(pattern, "}") {
		panic(fmt.Sprintf("httpapi: custom method pattern %q must end in a {parameter}", pattern))
	}
	param := pattern[open+2 : len(pattern)-1]
	var docs []string
	for verb := range verbs {
		docs = append(docs, pattern+":"+verb)
	}
	slices.Sort(docs)
	s.documented[http.MethodPost+" "+pattern] = docs
	r.Post(pattern, handle(func(w http.ResponseWriter, r *http.Request) error {
		rctx := chi.RouteContext(r.Context())
		value := rctx.URLParam(param)
		i := strings.LastIndexByte(value, ':')
		var h handler
		if i >= 0 {
			h = verbs[value[i+1:]]
		}
		if h == nil {
			return fmt.Errorf("%w: POST %s", errNotFound, r.URL.Path)
		}
		value, verb := value[:i], value[i+1:]
		for k := len(rctx.URLParams.Keys) - 1; k >= 0; k-- {
			if rctx.URLParams.Keys[k] == param {
				rctx.URLParams.Values[k] = value
				break
			}
		}
		r.SetPathValue(param, value)
		// The metrics middleware reads the pattern after the handler returns.
		rctx.RoutePatterns[len(rctx.RoutePatterns)-1] += ":" + verb
		r.Pattern = rctx.RoutePattern()
		return h(w, r)
	}))
}
