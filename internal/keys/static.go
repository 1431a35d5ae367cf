// Package keys authenticates client keys and turns them into principals.
package keys

import (
	"context"
	"crypto/sha256"
	"errors"
)

// Principal is who a request acts for.
type Principal struct {
	// KeyName identifies the key in logs and usage rows (the virtual key's
	// alias or the static key's name); never the secret.
	KeyName string
	// KeyID, UserID, TeamID are set for virtual keys from the store.
	KeyID    string
	UserID   string
	UserName string
	TeamID   string
	TeamName string
	// Models lists the public model names the key may use; empty allows all.
	Models []string
	// Tags are the key's attribution tags.
	Tags map[string]string
}

// ErrInvalidKey is returned for an unknown, malformed or missing key.
var ErrInvalidKey = errors.New("invalid API key")

// ErrMissingKey is returned when the request carried no key at all.
var ErrMissingKey = errors.New("missing API key")

// Static authenticates against a fixed list of keys from the config file.
// Secrets are held only as SHA-256 digests, so a heap dump does not leak them,
// and lookups are a map access on the digest: no comparison loop whose timing
// depends on the secret.
type Static struct {
	byHash map[[32]byte]Principal
	open   bool
}

// StaticKey is one configured key.
type StaticKey struct {
	Name   string
	Secret string
}

// NewStatic returns an authenticator for keys. With no keys it is open: every
// request is accepted as the principal "anonymous".
func NewStatic(keys []StaticKey) *Static {
	s := &Static{byHash: make(map[[32]byte]Principal, len(keys)), open: len(keys) == 0}
	for _, k := range keys {
		s.byHash[sha256.Sum256([]byte(k.Secret))] = Principal{KeyName: k.Name}
	}
	return s
}

// Open reports whether any key is accepted.
func (s *Static) Open() bool { return s.open }

// Authenticate returns the principal of secret.
func (s *Static) Authenticate(_ context.Context, secret string) (Principal, error) {
	if s.open {
		return Principal{KeyName: "anonymous"}, nil
	}
	if secret == "" {
		return Principal{}, ErrMissingKey
	}
	p, ok := s.byHash[sha256.Sum256([]byte(secret))]
	if !ok {
		return Principal{}, ErrInvalidKey
	}
	return p, nil
}
