package keys

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"sync/atomic"
	"time"
)

// ErrExpiredKey and ErrDisabledKey refine ErrInvalidKey for the log; clients
// get the same 401 for all three.
var (
	ErrExpiredKey  = errors.New("API key expired")
	ErrDisabledKey = errors.New("API key disabled")
)

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
// replicas). The request path does one map lookup and never touches the
// database.
type Cache struct {
	snap   atomic.Pointer[map[[32]byte]Entry]
	static *Static
	now    func() time.Time
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

// Replace swaps in a new key set.
func (c *Cache) Replace(entries []Entry) {
	m := make(map[[32]byte]Entry, len(entries))
	for _, e := range entries {
		m[e.Hash] = e
	}
	c.snap.Store(&m)
}

// Len returns the number of virtual keys.
func (c *Cache) Len() int { return len(*c.snap.Load()) }

// Authenticate returns the principal of secret.
func (c *Cache) Authenticate(ctx context.Context, secret string) (Principal, error) {
	m := *c.snap.Load()
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
