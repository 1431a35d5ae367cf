package keys

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"
)

// ErrExpiredKey and ErrDisabledKey refine ErrInvalidKey for the log; clients
// get the same 401 for all three.
var (
	ErrExpiredKey  = errors.New("API key expired")
	ErrDisabledKey = errors.New("API key disabled")
)

// ErrUnconfirmed is returned when the cache, holding no keys, could not ask
// the store whether that is still true. The request is refused: an open
// gateway admits anyone, so it must never be open by mistake.
var ErrUnconfirmed = errors.New("could not confirm with the store that no API keys exist")

// ErrNoKeys is returned, for every request, by a cache that holds no keys
// and whose owner has refused open mode (RefuseOpen): the gateway is closed
// until the first key exists. It is the operator's problem, not the
// caller's, so the server words its answer for the operator.
var ErrNoKeys = errors.New("no client keys exist yet and open mode is off")

// confirmTimeout bounds one confirmation query, which runs detached from the
// request that started it because other requests wait for it too.
const confirmTimeout = 10 * time.Second

// Entry is one virtual key as the request path needs it.
type Entry struct {
	ID       string
	Alias    string
	Hash     [32]byte // SHA-256 of the secret
	UserID   string
	UserName string
	TeamID   string
	TeamName string
	Expires  time.Time // zero: never
	Models   []string  // allowed public model names; empty: all
	Tags     map[string]string
	Disabled bool // the key, or its user, is disabled

	// Previous, when set, is the secret the key had before it was rotated,
	// still accepted as the key until its Until (see Previous).
	Previous *Previous
}

// Previous is the secret a rotation replaced, kept so that clients can move
// to the new one without an outage: `tollgate keys rotate --overlap 1h`.
type Previous struct {
	Hash  [32]byte
	Until time.Time
}

// PreviousFrom returns the previous secret of a stored key, from its hex
// hash and the end of its overlap; nil when it has none (or a malformed
// hash, which authenticates nothing).
func PreviousFrom(hexHash string, until time.Time) *Previous {
	h, ok := ParseHash(hexHash)
	if !ok || until.IsZero() {
		return nil
	}
	return &Previous{Hash: h, Until: until}
}

// HashSecret returns the SHA-256 digest keys are looked up by.
func HashSecret(secret string) [32]byte { return sha256.Sum256([]byte(secret)) }

// ParseHash decodes a hex SHA-256 digest as stored.
func ParseHash(h string) ([32]byte, bool) {
	var out [32]byte
	b, err := hex.DecodeString(h)
	if err != nil || len(b) != 32 {
		return out, false
	}
	copy(out[:], b)
	return out, true
}

// Cache authenticates keys from an in-memory snapshot of the store, replaced
// whole whenever keys change (admin API, CLI, periodic refresh for other
// replicas). When keys exist, the request path does one map lookup and
// never touches the database.
//
// Open mode (no static and no virtual keys: everyone is "anonymous") is the
// exception. A snapshot with no keys may only be stale: another replica
// sharing the database may have created the first key since the last
// reload, and that replica's operator now believes the gateway is closed.
// So while the snapshot is empty, every request first asks the store (see
// ConfirmOpenWith); open mode is a trial mode, and one small query per
// request there is cheap next to an upstream call.
type Cache struct {
	snap   atomic.Pointer[map[[32]byte]Entry]
	n      atomic.Int64 // keys in snap, not counting previous secrets
	static *Static
	now    func() time.Time

	confirm    func(context.Context) error // nil: trust the snapshot
	refuseOpen bool                        // no keys means closed, not open
	mu         sync.Mutex                  // guards busy and queued
	busy       bool                        // a confirmation is running
	queued     *flight                     // the next one, not started yet
}

// flight is one confirmation that several requests wait for.
type flight struct {
	done chan struct{}
	err  error
}

// NewCache returns a cache that also accepts the static keys of the config
// file. With neither static nor virtual keys it is open, as Static is.
func NewCache(static *Static, now func() time.Time) *Cache {
	if now == nil {
		now = time.Now
	}
	c := &Cache{static: static, now: now}
	empty := map[[32]byte]Entry{}
	c.snap.Store(&empty)
	return c
}

// ConfirmOpenWith makes the cache call confirm before it admits a request
// in open mode. confirm must find out whether the store has any key and, if
// it has, reload the cache (Replace) before returning; an error refuses the
// request with ErrUnconfirmed. Call it before the cache serves requests.
//
// Confirmations are single-flight, with one subtlety: a request never joins
// a confirmation that started before it arrived, since that one may have
// read the store before the first key was committed. It joins the next
// one, which starts when the running one ends; so the store sees at most
// one query at a time, whatever the request rate.
func (c *Cache) ConfirmOpenWith(confirm func(ctx context.Context) error) {
	c.confirm = confirm
}

// RefuseOpen closes the gateway while no key exists: requests that open
// mode would admit as "anonymous" get ErrNoKeys instead. The composition root
// calls it unless the listener is loopback or the operator asked for open
// mode by name, so that a gateway reachable from the network is never open
// by default. The store is still asked first (see ConfirmOpenWith), so the
// first key created on another replica is honoured on the next request.
// Call it before the cache serves requests.
func (c *Cache) RefuseOpen() { c.refuseOpen = true }

// SetClock replaces the clock key expiry is judged by; call it before the
// cache serves (tests move the clock instead of sleeping).
func (c *Cache) SetClock(now func() time.Time) { c.now = now }

// OpenNow reports whether the cache would, right now, admit a request
// without checking its key: no static and no virtual keys, and open mode
// not refused. It feeds the tollgate_open_mode gauge.
func (c *Cache) OpenNow() bool {
	return !c.refuseOpen && c.static.Open() && c.Len() == 0
}

// confirmOpen waits for a confirmation that starts after this call.
func (c *Cache) confirmOpen(ctx context.Context) error {
	c.mu.Lock()
	f := c.queued
	if f == nil {
		f = &flight{done: make(chan struct{})}
		c.queued = f
		if !c.busy {
			c.startLocked(ctx)
		}
	}
	c.mu.Unlock()
	select {
	case <-f.done:
		return f.err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// startLocked runs the queued confirmation, and when it ends, the one
// queued meanwhile. c.mu must be held.
func (c *Cache) startLocked(ctx context.Context) {
	f := c.queued
	c.queued, c.busy = nil, true
	ctx = context.WithoutCancel(ctx)
	go func() {
		cctx, cancel := context.WithTimeout(ctx, confirmTimeout)
		f.err = c.confirm(cctx)
		cancel()
		close(f.done)
		c.mu.Lock()
		c.busy = false
		if c.queued != nil {
			c.startLocked(ctx)
		}
		c.mu.Unlock()
	}()
}

// Replace swaps in a new key set. A key's previous secret is entered as the
// same key, expiring at the end of its overlap (or the key's own expiry, if
// sooner): after that it gets ErrExpiredKey, a 401 like any bad key.
func (c *Cache) Replace(entries []Entry) {
	m := make(map[[32]byte]Entry, len(entries))
	for _, e := range entries {
		m[e.Hash] = e
	}
	for _, e := range entries {
		p := e.Previous
		if p == nil {
			continue
		}
		if _, taken := m[p.Hash]; taken {
			continue // never let an old secret shadow a current one
		}
		if e.Expires.IsZero() || p.Until.Before(e.Expires) {
			e.Expires = p.Until
		}
		m[p.Hash] = e
	}
	c.snap.Store(&m)
	c.n.Store(int64(len(entries)))
}

// Len returns the number of virtual keys.
func (c *Cache) Len() int { return int(c.n.Load()) }

// Authenticate returns the principal of secret.
func (c *Cache) Authenticate(ctx context.Context, secret string) (Principal, error) {
	m := *c.snap.Load()
	if len(m) == 0 && c.confirm != nil && c.static.Open() {
		// About to admit without a key check: make sure the store agrees
		// that there are no keys (see Cache).
		if err := c.confirmOpen(ctx); err != nil {
			return Principal{}, fmt.Errorf("%w: %w", ErrUnconfirmed, err)
		}
		m = *c.snap.Load()
	}
	if c.refuseOpen && c.static.Open() && len(m) == 0 {
		return Principal{}, ErrNoKeys
	}
	if secret == "" {
		if c.static.Open() && len(m) == 0 {
			return Principal{KeyName: "anonymous"}, nil
		}
		return Principal{}, ErrMissingKey
	}
	if e, ok := m[HashSecret(secret)]; ok {
		switch {
		case e.Disabled:
			return Principal{}, ErrDisabledKey
		case !e.Expires.IsZero() && !c.now().Before(e.Expires):
			return Principal{}, ErrExpiredKey
		}
		return Principal{KeyName: e.Alias, KeyID: e.ID, UserID: e.UserID, UserName: e.UserName, TeamID: e.TeamID,
			TeamName: e.TeamName, Models: e.Models, Tags: e.Tags}, nil
	}
	if c.static.Open() && len(m) > 0 {
		// Virtual keys exist: the gateway is no longer open.
		return Principal{}, ErrInvalidKey
	}
	return c.static.Authenticate(ctx, secret)
}
