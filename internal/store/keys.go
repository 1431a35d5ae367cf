package store

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"database/sql"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"
)

// KeySecretPrefix starts every virtual key secret.
const KeySecretPrefix = "tg-"

// NewSecret returns prefix followed by 43 characters of base64url: 32 bytes
// (256 bits) from crypto/rand.
func NewSecret(prefix string) string {
	var b [32]byte
	rand.Read(b[:])
	return prefix + base64.RawURLEncoding.EncodeToString(b[:])
}

// HashSecret returns the hex SHA-256 of a secret, the only form in which
// key and admin secrets are stored. A fast hash is right here: the secrets
// are 256-bit random, so there is nothing to brute-force.
func HashSecret(secret string) string {
	sum := sha256.Sum256([]byte(secret))
	return hex.EncodeToString(sum[:])
}

// secretPrefix returns the part of a secret that is safe to show in lists:
// its scheme prefix and the next 8 characters (48 of the 256 bits).
func secretPrefix(secret string) string {
	return secret[:len(KeySecretPrefix)+8]
}

// checkKey validates the mutable fields of a key.
func checkKey(k *Key) error {
	if err := checkName("key alias", k.Alias); err != nil {
		return err
	}
	for _, m := range k.Models {
		if strings.TrimSpace(m) == "" {
			return invalid("empty model name in the key's models")
		}
	}
	for tk := range k.Tags {
		if tk == "" || strings.ContainsAny(tk, "=,") || len(tk) > 100 {
			return invalid("tag name %q: must be 1-100 characters without '=' or ','", tk)
		}
	}
	return nil
}

// normalizeModels sorts and de-duplicates model names, so lists compare equal.
func normalizeModels(models []string) []string {
	if len(models) == 0 {
		return nil
	}
	out := slices.Clone(models)
	slices.Sort(out)
	return slices.Compact(out)
}

func encodeJSON(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

// resolveOwner resolves the user and team references of k in place.
func resolveOwner(ctx context.Context, tx *sql.Tx, k *Key) error {
	var err error
	if k.UserID != "" {
		if k.UserID, err = resolve(ctx, tx, ScopeUser, k.UserID); err != nil {
			return err
		}
	}
	if k.TeamID != "" {
		if k.TeamID, err = resolve(ctx, tx, ScopeTeam, k.TeamID); err != nil {
			return err
		}
	}
	return nil
}

// CreateKey creates a virtual key and returns it with its secret. The
// secret is returned only here: the store keeps its SHA-256 alone.
//
// k.UserID and k.TeamID may be ids or names (both optional); Alias defaults
// to the generated id; ID, Prefix, SecretHash and LastUsedAt are ignored.
func (s *Store) CreateKey(ctx context.Context, k Key) (Key, string, error) {
	nk, err := s.CreateKeyWith(ctx, k, nil, nil)
	return nk.Key, nk.Secret, err
}

// NewKey is what CreateKeyWith created: the key, its secret (shown once,
// never stored), and the key's own budget and rate limit when asked for.
type NewKey struct {
	Key    Key
	Secret string
	Budget *Budget
	Limit  *Limit
}

// CreateKeyWith creates a key together with a budget and a rate limit on it
// (either may be nil) in one transaction, so a key never exists without the
// budget it was created with: a typo in the budget's period fails the whole
// request instead of leaving an unbudgeted key behind. The scope of budget
// and limit is set to the new key; see CreateKey, CreateBudget and
// CreateLimit for the fields.
func (s *Store) CreateKeyWith(ctx context.Context, k Key, budget *Budget, limit *Limit) (NewKey, error) {
	var out NewKey
	err := s.write(ctx, func(tx *sql.Tx) error {
		var err error
		out, err = s.createKeyTx(ctx, tx, k, budget, limit)
		return err
	})
	if err != nil {
		return NewKey{}, err
	}
	return out, nil
}

// createKeyTx is CreateKeyWith inside the caller's transaction, so that a
// key can be created together with records of its own (CreateCIKey).
func (s *Store) createKeyTx(ctx context.Context, tx *sql.Tx, k Key, budget *Budget, limit *Limit) (NewKey, error) {
	secret := NewSecret(KeySecretPrefix)
	k.ID = newID("key")
	if k.Alias == "" {
		k.Alias = k.ID
	}
	k.Prefix = secretPrefix(secret)
	k.SecretHash = HashSecret(secret)
	k.CreatedAt = s.createdAt(k.CreatedAt)
	k.LastUsedAt = time.Time{}
	k.Models = normalizeModels(k.Models)
	if len(k.Tags) == 0 {
		k.Tags = nil
	}
	if !k.ExpiresAt.IsZero() {
		k.ExpiresAt = time.UnixMilli(k.ExpiresAt.UnixMilli()).UTC()
	}
	if err := checkKey(&k); err != nil {
		return NewKey{}, err
	}
	out := NewKey{Key: k, Secret: secret}
	if budget != nil {
		b := *budget
		b.ScopeKind, b.ScopeID = ScopeKey, k.ID
		if err := s.prepareBudget(&b); err != nil {
			return NewKey{}, err
		}
		out.Budget = &b
	}
	if limit != nil {
		l := *limit
		l.ScopeKind, l.ScopeID = ScopeKey, k.ID
		if err := s.prepareLimit(&l); err != nil {
			return NewKey{}, err
		}
		out.Limit = &l
	}
	err := func() error {
		if err := resolveOwner(ctx, tx, &out.Key); err != nil {
			return err
		}
		k := out.Key
		_, err := tx.ExecContext(ctx, `INSERT INTO keys
			(id, alias, prefix, secret_hash, user_id, team_id, expires_at, models, tags, disabled, created_at)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)`,
			k.ID, k.Alias, k.Prefix, k.SecretHash, nullString(k.UserID), nullString(k.TeamID), nullMS(k.ExpiresAt),
			encodeJSON(nonNil(k.Models)), encodeJSON(nonNilMap(k.Tags)), k.Disabled, ms(k.CreatedAt))
		if isUnique(err) {
			return conflict("a key with alias %q already exists", k.Alias)
		}
		if err != nil {
			return fmt.Errorf("store: create key: %w", err)
		}
		if out.Budget != nil {
			if err := insertBudget(ctx, tx, out.Budget, k.Alias); err != nil {
				return err
			}
		}
		if out.Limit != nil {
			if err := insertLimit(ctx, tx, out.Limit, k.Alias); err != nil {
				return err
			}
		}
		return nil
	}()
	if err != nil {
		return NewKey{}, err
	}
	return out, nil
}

func nonNil(v []string) []string {
	if v == nil {
		return []string{}
	}
	return v
}

func nonNilMap(v map[string]string) map[string]string {
	if v == nil {
		return map[string]string{}
	}
	return v
}

const keyCols = `id, alias, prefix, secret_hash, user_id, team_id, expires_at, models, tags, disabled, created_at, last_used_at,
	prev_secret_hash, prev_expires_at`

func scanKey(sc scanner) (Key, error) {
	var k Key
	var user, team sql.NullString
	var expires, lastUsed, prevExpires sql.NullInt64
	var created int64
	var models, tags string
	var prevHash sql.NullString
	if err := sc.Scan(&k.ID, &k.Alias, &k.Prefix, &k.SecretHash, &user, &team, &expires, &models, &tags,
		&k.Disabled, &created, &lastUsed, &prevHash, &prevExpires); err != nil {
		return Key{}, err
	}
	if prevHash.Valid && prevExpires.Valid {
		k.PrevSecretHash, k.PrevExpiresAt = prevHash.String, fromMS(prevExpires.Int64)
	}
	k.UserID, k.TeamID = user.String, team.String
	k.ExpiresAt, k.LastUsedAt = fromMS(expires.Int64), fromMS(lastUsed.Int64)
	k.CreatedAt = fromMS(created)
	if err := json.Unmarshal([]byte(models), &k.Models); err != nil {
		return Key{}, fmt.Errorf("key %s: models: %w", k.ID, err)
	}
	if err := json.Unmarshal([]byte(tags), &k.Tags); err != nil {
		return Key{}, fmt.Errorf("key %s: tags: %w", k.ID, err)
	}
	if len(k.Models) == 0 {
		k.Models = nil
	}
	if len(k.Tags) == 0 {
		k.Tags = nil
	}
	return k, nil
}

// GetKey returns the key whose id or alias is ref.
func (s *Store) GetKey(ctx context.Context, ref string) (Key, error) {
	return getKey(ctx, s.r, ref)
}

func getKey(ctx context.Context, q queryer, ref string) (Key, error) {
	id, err := resolve(ctx, q, ScopeKey, ref)
	if err != nil {
		return Key{}, err
	}
	k, err := scanKey(q.QueryRowContext(ctx, `SELECT `+keyCols+` FROM keys WHERE id = $1`, id))
	if err != nil {
		return Key{}, fmt.Errorf("store: get key: %w", err)
	}
	return k, nil
}

// KeyFilter narrows ListKeys. Empty fields match everything; UserID and
// TeamID accept ids or names.
type KeyFilter struct {
	UserID string
	TeamID string
}

// ListKeys returns the keys matching f, by alias.
func (s *Store) ListKeys(ctx context.Context, f KeyFilter) ([]Key, error) {
	var keys []Key
	err := s.read(ctx, func(tx *sql.Tx) error {
		var err error
		var uid, tid string
		if f.UserID != "" {
			if uid, err = resolve(ctx, tx, ScopeUser, f.UserID); err != nil {
				return err
			}
		}
		if f.TeamID != "" {
			if tid, err = resolve(ctx, tx, ScopeTeam, f.TeamID); err != nil {
				return err
			}
		}
		keys, err = listKeys(ctx, tx, uid, tid)
		return err
	})
	return keys, err
}

func listKeys(ctx context.Context, q queryer, userID, teamID string) ([]Key, error) {
	return queryAll(ctx, q, "list keys", scanKey, `SELECT `+keyCols+` FROM keys
		WHERE ($1 = '' OR user_id = $1) AND ($2 = '' OR team_id = $2) ORDER BY alias`, userID, teamID)
}

// UpdateKey applies fn to the key named ref and saves it. fn may change
// Alias, UserID and TeamID (ids or names; "" for none), ExpiresAt (zero for
// never), Models, Tags and Disabled; the secret, prefix and times are fixed.
func (s *Store) UpdateKey(ctx context.Context, ref string, fn func(*Key) error) (Key, error) {
	var out Key
	err := s.write(ctx, func(tx *sql.Tx) error {
		k, err := getKey(ctx, tx, ref)
		if err != nil {
			return err
		}
		if err := fn(&k); err != nil {
			return err
		}
		k.Models = normalizeModels(k.Models)
		if err := checkKey(&k); err != nil {
			return err
		}
		if err := resolveOwner(ctx, tx, &k); err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, `UPDATE keys SET alias = $2, user_id = $3, team_id = $4, expires_at = $5,
			models = $6, tags = $7, disabled = $8 WHERE id = $1`,
			k.ID, k.Alias, nullString(k.UserID), nullString(k.TeamID), nullMS(k.ExpiresAt),
			encodeJSON(nonNil(k.Models)), encodeJSON(nonNilMap(k.Tags)), k.Disabled)
		if isUnique(err) {
			return conflict("a key with alias %q already exists", k.Alias)
		}
		if err != nil {
			return fmt.Errorf("store: update key: %w", err)
		}
		out, err = getKey(ctx, tx, k.ID)
		return err
	})
	return out, err
}

// RotateKey gives the key named ref a new secret, returned only here, and
// keeps everything else: id, alias, owner, budgets, limits, usage. With a
// non-zero prevUntil the secret it replaces keeps working until then, so
// that the clients holding it can be moved over first; with a zero one it
// stops at once. Rotating again within an overlap ends the earlier previous
// secret: only the one just replaced is kept.
func (s *Store) RotateKey(ctx context.Context, ref string, prevUntil time.Time) (Key, string, error) {
	secret := NewSecret(KeySecretPrefix)
	var out Key
	err := s.write(ctx, func(tx *sql.Tx) error {
		k, err := getKey(ctx, tx, ref)
		if err != nil {
			return err
		}
		var prevHash sql.NullString
		var prevExpires sql.NullInt64
		if !prevUntil.IsZero() {
			prevHash = sql.NullString{String: k.SecretHash, Valid: true}
			prevExpires = sql.NullInt64{Int64: ms(prevUntil), Valid: true}
		}
		if _, err := tx.ExecContext(ctx, `UPDATE keys SET prefix = $2, secret_hash = $3, prev_secret_hash = $4,
			prev_expires_at = $5 WHERE id = $1`, k.ID, secretPrefix(secret), HashSecret(secret), prevHash, prevExpires); err != nil {
			return fmt.Errorf("store: rotate key: %w", err)
		}
		out, err = getKey(ctx, tx, k.ID)
		return err
	})
	if err != nil {
		return Key{}, "", err
	}
	return out, secret, nil
}

// RevokeKey disables the key named ref. The key and its usage stay; it can
// be re-enabled with UpdateKey.
func (s *Store) RevokeKey(ctx context.Context, ref string) (Key, error) {
	return s.UpdateKey(ctx, ref, func(k *Key) error { k.Disabled = true; return nil })
}

// DeleteKey deletes the key named ref and the budgets and limits on it.
// Its usage rows and rollups stay, still attributed to its id.
func (s *Store) DeleteKey(ctx context.Context, ref string) error {
	return s.write(ctx, func(tx *sql.Tx) error {
		id, err := resolve(ctx, tx, ScopeKey, ref)
		if err != nil {
			return err
		}
		if err := deleteScoped(ctx, tx, ScopeKey, id); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM keys WHERE id = $1`, id); err != nil {
			return fmt.Errorf("store: delete key: %w", err)
		}
		return nil
	})
}

// HasKeys reports whether any key exists, revoked ones included (they keep a
// gateway closed as AuthSnapshot's keys do). It is the one query a replica
// that holds no keys makes before it admits a request in open mode.
func (s *Store) HasKeys(ctx context.Context) (bool, error) {
	var n int
	err := s.r.QueryRowContext(ctx, `SELECT count(*) FROM (SELECT 1 FROM keys LIMIT 1) AS k`).Scan(&n)
	if err != nil {
		return false, fmt.Errorf("store: has keys: %w", err)
	}
	return n > 0, nil
}
