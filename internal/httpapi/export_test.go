package httpapi

import (
	"net/http"

	"github.com/go-chi/chi/v5"
)

// NewWithRoutes is New with test routes mounted next to the real ones,
// behind the same middleware.
func NewWithRoutes(d Deps, mount func(chi.Router)) http.Handler {
	return newServer(d, func(_ *server, r chi.Router) { mount(r) }).router
}
