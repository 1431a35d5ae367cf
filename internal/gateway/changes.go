package gateway

import (
	"context"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/tollgate-gw/tollgate/internal/store"
)

// changeFeed keeps a replica's accounts in step with the others': it
// listens for the change announcements of admin writes (runtime models
// included) (store.NotifyChange,
// PostgreSQL LISTEN/NOTIFY) and reloads at each, so that a key created or
// revoked, a budget or a limit changed on one replica takes effect on every
// replica within a database round trip. Announcements that arrive while a
// reload runs collapse into one more reload. The periodic reload
// (Accounts.Run) stays as the safety net; while the feed is down it is the
// only way changes arrive, which /readyz?verbose=1 and
// tollgate_change_feed_listening say.
type changeFeed struct {
	a   *Accounts
	m   *Models
	st  *store.Store
	log *slog.Logger

	listening atomic.Bool
	lastErr   atomic.Pointer[string]
	wake      chan struct{} // capacity 1: a reload is wanted
}

func newChangeFeed(a *Accounts, m *Models, st *store.Store, log *slog.Logger) *changeFeed {
	return &changeFeed{a: a, m: m, st: st, log: log, wake: make(chan struct{}, 1)}
}

// run listens until ctx ends, reconnecting with a capped back-off.
func (f *changeFeed) run(ctx context.Context) {
	done := make(chan struct{})
	go func() {
		defer close(done)
		f.reloader(ctx)
	}()
	defer func() { <-done }()
	const maxBackoff = 5 * time.Second
	backoff := 100 * time.Millisecond
	for ctx.Err() == nil {
		err := f.st.ListenChanges(ctx, func() {
			f.listening.Store(true)
			f.lastErr.Store(nil)
			backoff = 100 * time.Millisecond
			f.poke() // what was announced while not listening was missed
		}, f.poke)
		f.listening.Store(false)
		if ctx.Err() != nil {
			return
		}
		msg := err.Error()
		f.lastErr.Store(&msg)
		f.log.Warn("not hearing other replicas' changes; retrying (the periodic reload still applies them)", "err", err, "retry_in", backoff)
		select {
		case <-ctx.Done():
			return
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, maxBackoff)
	}
}

func (f *changeFeed) poke() {
	select {
	case f.wake <- struct{}{}:
	default:
	}
}

func (f *changeFeed) reloader(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-f.wake:
		}
		rctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		if err := f.a.Reload(rctx); err != nil && ctx.Err() == nil {
			f.log.Error("reloading after another replica's change failed; serving the previous set", "err", err)
		}
		if err := f.m.ReloadDatabase(rctx); err != nil && ctx.Err() == nil {
			f.log.Error("reloading runtime models after another replica's change failed; serving the previous routes", "err", err)
		}
		cancel()
	}
}

// health is the feed's state for /readyz?verbose=1.
func (f *changeFeed) health() *ChangeFeedHealth {
	h := &ChangeFeedHealth{Listening: f.listening.Load()}
	if p := f.lastErr.Load(); p != nil {
		h.Error = *p
	}
	return h
}
