package admin

import (
	"encoding/json"
	"fmt"
	"net/http"
	"time"

	"github.com/tollgate-gw/tollgate/internal/apierror"
	"github.com/tollgate-gw/tollgate/internal/usage"
)

// LiveRecord is one call as the live feed (GET /admin/usage/live) shows it:
// who, what, how much — never a secret. Its token fields are the feed's own,
// older shape (the two cache-write lifetimes summed), kept for its clients;
// toLive fills them from the record's tokens.Counts.
type LiveRecord struct {
	Time         time.Time         `json:"time"`
	RequestID    string            `json:"request_id"`
	Key          string            `json:"key"`
	UserID       string            `json:"user_id,omitempty"`
	TeamID       string            `json:"team_id,omitempty"`
	SessionID    string            `json:"session_id,omitempty"`
	Tags         map[string]string `json:"tags,omitempty"`
	Model        string            `json:"model"`
	Door         string            `json:"door"`
	Stream       bool              `json:"stream"`
	Status       int               `json:"status"`
	ErrorOrigin  string            `json:"error_origin,omitempty"`
	LatencyMs    int64             `json:"latency_ms"`
	InputTokens  int64             `json:"input_tokens"`
	OutputTokens int64             `json:"output_tokens"`
	CacheWrite   int64             `json:"cache_write_tokens"`
	CacheRead    int64             `json:"cache_read_tokens"`
	CostMicros   int64             `json:"cost_micros"`
	Unpriced     bool              `json:"unpriced,omitempty"`
}

// live serves GET /admin/usage/live: every metered call as it finishes, as
// server-sent events ("event: usage", JSON data), until the client leaves. A
// comment line every 15 s keeps idle connections open through proxies. A
// client too slow to keep up loses records rather than slowing requests.
func (a *API) live(w http.ResponseWriter, r *http.Request) error {
	if a.opts.Live == nil {
		return apierror.Client(http.StatusNotFound, apierror.TypeNotFound, "the live usage feed is not enabled on this gateway")
	}
	sc, err := a.scopeOf(r.Context())
	if err != nil {
		return err
	}
	feed, cancel := a.opts.Live()
	defer cancel()
	rc := http.NewResponseController(w)
	w.Header().Set("Content-Type", "text/event-stream; charset=utf-8")
	w.Header().Set("Cache-Control", "no-cache")
	w.Header().Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	fmt.Fprint(w, ": tollgate live usage\n\n")
	rc.Flush()
	tick := time.NewTicker(15 * time.Second)
	defer tick.Stop()
	for {
		select {
		case <-r.Context().Done():
			return nil
		case <-tick.C:
			if _, err := fmt.Fprint(w, ": keep-alive\n\n"); err != nil {
				return nil
			}
		case rec, ok := <-feed:
			if !ok {
				return nil
			}
			if !sc.team(rec.TeamID) {
				continue
			}
			b, _ := json.Marshal(toLive(rec))
			if _, err := fmt.Fprintf(w, "event: usage\ndata: %s\n\n", b); err != nil {
				return nil
			}
		}
		if err := rc.Flush(); err != nil {
			return nil
		}
	}
}

func toLive(r usage.Record) LiveRecord {
	return LiveRecord{
		Time: r.Time, RequestID: r.RequestID, Key: r.KeyAlias, UserID: r.UserID, TeamID: r.TeamID,
		SessionID: r.SessionID, Tags: r.Tags, Model: r.Model, Door: r.Door, Stream: r.Stream,
		Status: r.Status, ErrorOrigin: r.ErrorOrigin, LatencyMs: r.LatencyMs,
		InputTokens: r.Tokens.Input, OutputTokens: r.Tokens.Output,
		CacheWrite: r.Tokens.CacheWrite(), CacheRead: r.Tokens.CacheRead,
		CostMicros: r.CostMicros, Unpriced: r.Unpriced,
	}
}
