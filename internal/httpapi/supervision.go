package httpapi

import (
	"net/http"

	"github.com/go-chi/chi/v5"
)

func (s *server) mountSupervision(r chi.Router) {
	r = need(r, s.Tree != nil, "supervision tree")
	r.Get("/api/v1/supervision", handle(s.supervision))
}

func (s *server) supervision(w http.ResponseWriter, _ *http.Request) error {
	WriteJSON(w, http.StatusOK, s.Tree())
	return nil
}
