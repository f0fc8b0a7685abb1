package httpapi

import (
	"fmt"
	"net/http"

	"github.com/go-chi/chi/v5"
)

var errNoTree = fmt.Errorf("%w: no supervision tree", errUnavailable)

func (s *server) mountSupervision(r chi.Router) {
	r.Get("/api/v1/supervision", func(w http.ResponseWriter, r *http.Request) {
		if s.Tree == nil {
			WriteError(w, r, errNoTree)
			return
		}
		WriteJSON(w, http.StatusOK, s.Tree())
	})
}
