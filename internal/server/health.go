package server

import (
	"context"
	"encoding/json"
	"net/http"
)

// Health is what GET /readyz?verbose=1 reports, for operators: why the
// gateway is ready or not, and the state behind it. The verdict itself is
// Options.Ready's; these are the numbers to look at when it says no, or
// before it does.
type Health struct {
	Status string `json:"status"`           // "ok" or "not_ready"
	Reason string `json:"reason,omitempty"` // why not ready
	// Details come from Options.Health.
	Details any `json:"details,omitempty"`
}

// readyzDetails answers /readyz?verbose=1: the verdict as the status code,
// as /readyz does, with the details as JSON.
func (s *Server) readyzDetails(ctx context.Context, w http.ResponseWriter, notReady error) error {
	h := Health{Status: "ok"}
	code := http.StatusOK
	if notReady != nil {
		h.Status, h.Reason, code = "not_ready", notReady.Error(), http.StatusServiceUnavailable
	}
	if s.opts.Health != nil {
		h.Details = s.opts.Health(ctx)
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	return json.NewEncoder(w).Encode(h)
}
