package gateway

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"time"

	"github.com/tollgate-gw/tollgate/internal/apierror"
	"github.com/tollgate-gw/tollgate/internal/ciauth"
	"github.com/tollgate-gw/tollgate/internal/config"
	"github.com/tollgate-gw/tollgate/internal/store"
)

// newExchanges builds what serves /v1/auth/: the credential exchanges that
// are configured (today the GitHub Actions one), or nil when none is, so
// that the path stays a plain 404.
func newExchanges(cfg *config.Config, st *store.Store, accts *Accounts, clock func() time.Time, log *slog.Logger) http.Handler {
	if !cfg.GitHubActions.Enabled() {
		return nil
	}
	// A new key must work on the very next request, here and on every
	// other replica, as after an admin change.
	created := func(ctx context.Context) {
		if err := accts.Reload(context.WithoutCancel(ctx)); err != nil {
			log.Error("reloading keys after a key exchange failed", "err", err)
		}
		nctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cfg.Replicas.DatabaseTimeout)
		defer cancel()
		if err := st.NotifyChange(nctx); err != nil {
			log.Warn("announcing a new key to the other replicas failed; they load it at their next periodic reload", "err", err)
		}
	}
	mux := http.NewServeMux()
	mux.Handle(ciauth.Path, ciauth.New(cfg.GitHubActions, ciauth.Options{
		Store: st, Created: created, Now: clock, Logger: log.With("component", "github-actions"),
	}))
	mux.HandleFunc("/v1/auth/", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set(apierror.OriginHeader, string(apierror.OriginClient))
		w.WriteHeader(http.StatusNotFound)
		json.NewEncoder(w).Encode(map[string]string{"error": "invalid_request", "error_description": "no such exchange: " + r.URL.Path})
	})
	return mux
}
