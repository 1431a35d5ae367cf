package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"
)

// AdminTokenPrefix starts every scoped admin API token secret, so that the
// admin API can tell a token from the bootstrap admin key ("tga-…") at a
// glance, and secret scanners can recognise one.
const AdminTokenPrefix = "tgt-"

// AdminAccount is a named admin who signs in with a password (and later
// SSO). The store keeps the password only as an argon2id PHC string; role
// names are the authz package's, checked by the admin API.
type AdminAccount struct {
	ID           string // "adm_…", generated
	Name         string // unique; what the account signs in with
	PasswordHash string // argon2id PHC string; never shown by the API
	Role         string
	TeamIDs      []string // teams a team_admin administers, sorted
	Disabled     bool
	CreatedAt    time.Time
	UpdatedAt    time.Time
	LastLoginAt  time.Time // zero when never signed in
}

// AdminToken is a scoped API token for automation. Its secret is shown
// once at creation; the store keeps its SHA-256 alone, as for keys.
type AdminToken struct {
	ID         string // "tok_…", generated
	Name       string // unique
	Prefix     string // "tgt-" + the secret's next 8 characters, for lists
	SecretHash string
	Role       string
	TeamIDs    []string
	ExpiresAt  time.Time // zero: never
	CreatedBy  string    // the creator's name as the audit log shows it
	CreatedAt  time.Time
	LastUsedAt time.Time
	RevokedAt  time.Time // zero: not revoked
}

// Active reports whether the token may be used at now.
func (t *AdminToken) Active(now time.Time) bool {
	return t.RevokedAt.IsZero() && (t.ExpiresAt.IsZero() || now.Before(t.ExpiresAt))
}

// resolveTeams turns team references (ids or names) into sorted,
// de-duplicated ids.
func resolveTeams(ctx context.Context, q queryer, refs []string) ([]string, error) {
	out := make([]string, 0, len(refs))
	for _, ref := range refs {
		id, err := resolve(ctx, q, ScopeTeam, ref)
		if err != nil {
			return nil, err
		}
		out = append(out, id)
	}
	slices.Sort(out)
	return slices.Compact(out), nil
}

func decodeTeams(s string) ([]string, error) {
	var ids []string
	if err := json.Unmarshal([]byte(s), &ids); err != nil {
		return nil, err
	}
	if len(ids) == 0 {
		return nil, nil
	}
	return ids, nil
}

// ---- accounts ----

const accountColumns = `id, name, password_hash, role, team_ids, disabled, created_at, updated_at, last_login_at`

func scanAccount(sc scanner) (AdminAccount, error) {
	var a AdminAccount
	var teams string
	var created, updated int64
	var login sql.NullInt64
	if err := sc.Scan(&a.ID, &a.Name, &a.PasswordHash, &a.Role, &teams, &a.Disabled, &created, &updated, &login); err != nil {
		return a, err
	}
	var err error
	if a.TeamIDs, err = decodeTeams(teams); err != nil {
		return a, fmt.Errorf("account %s: team_ids: %w", a.ID, err)
	}
	a.CreatedAt, a.UpdatedAt, a.LastLoginAt = fromMS(created), fromMS(updated), fromMS(login.Int64)
	return a, nil
}

// CreateAdminAccount inserts a with a generated id. a.TeamIDs may be team
// ids or names; a.PasswordHash must already be hashed.
func (s *Store) CreateAdminAccount(ctx context.Context, a AdminAccount) (AdminAccount, error) {
	if err := checkName("account name", a.Name); err != nil {
		return AdminAccount{}, err
	}
	if a.PasswordHash == "" {
		return AdminAccount{}, invalid("an account needs a password")
	}
	a.ID = newID("adm")
	a.CreatedAt = s.createdAt(a.CreatedAt)
	a.UpdatedAt = a.CreatedAt
	a.LastLoginAt = time.Time{}
	err := s.write(ctx, func(tx *sql.Tx) error {
		var err error
		if a.TeamIDs, err = resolveTeams(ctx, tx, a.TeamIDs); err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, `INSERT INTO admin_accounts
			(id, name, password_hash, role, team_ids, disabled, created_at, updated_at)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
			a.ID, a.Name, a.PasswordHash, a.Role, encodeJSON(nonNil(a.TeamIDs)), a.Disabled, ms(a.CreatedAt), ms(a.UpdatedAt))
		if isUnique(err) {
			return conflict("an admin account named %q already exists", a.Name)
		}
		if err != nil {
			return fmt.Errorf("store: create admin account: %w", err)
		}
		return nil
	})
	if err != nil {
		return AdminAccount{}, err
	}
	if len(a.TeamIDs) == 0 {
		a.TeamIDs = nil
	}
	return a, nil
}

// GetAdminAccount returns the account whose id or name is ref.
func (s *Store) GetAdminAccount(ctx context.Context, ref string) (AdminAccount, error) {
	return getAccount(ctx, s.r, ref)
}

func getAccount(ctx context.Context, q queryer, ref string) (AdminAccount, error) {
	a, err := scanAccount(q.QueryRowContext(ctx, `SELECT `+accountColumns+` FROM admin_accounts
		WHERE id = $1 OR name = $1 ORDER BY CASE WHEN id = $1 THEN 0 ELSE 1 END LIMIT 1`, ref))
	if errors.Is(err, sql.ErrNoRows) {
		return a, notFound("admin account %q not found", ref)
	}
	if err != nil {
		return a, fmt.Errorf("store: get admin account: %w", err)
	}
	return a, nil
}

// ListAdminAccounts returns every account, by name.
func (s *Store) ListAdminAccounts(ctx context.Context) ([]AdminAccount, error) {
	return queryAll(ctx, s.r, "list admin accounts", scanAccount, `SELECT `+accountColumns+` FROM admin_accounts ORDER BY name`)
}

// UpdateAdminAccount applies fn to the account ref and saves it. fn may
// change Name, PasswordHash, Role, TeamIDs (ids or names) and Disabled,
// and set UpdatedAt (else it is now).
func (s *Store) UpdateAdminAccount(ctx context.Context, ref string, fn func(*AdminAccount) error) (AdminAccount, error) {
	var a AdminAccount
	err := s.write(ctx, func(tx *sql.Tx) error {
		var err error
		if a, err = getAccount(ctx, tx, ref); err != nil {
			return err
		}
		id, created, login := a.ID, a.CreatedAt, a.LastLoginAt
		a.UpdatedAt = time.Time{} // fn may say when; else now
		if err := fn(&a); err != nil {
			return err
		}
		a.ID, a.CreatedAt, a.LastLoginAt = id, created, login
		if err := checkName("account name", a.Name); err != nil {
			return err
		}
		if a.PasswordHash == "" {
			return invalid("an account needs a password")
		}
		if a.TeamIDs, err = resolveTeams(ctx, tx, a.TeamIDs); err != nil {
			return err
		}
		a.UpdatedAt = s.createdAt(a.UpdatedAt)
		_, err = tx.ExecContext(ctx, `UPDATE admin_accounts SET name = $2, password_hash = $3, role = $4,
			team_ids = $5, disabled = $6, updated_at = $7 WHERE id = $1`,
			a.ID, a.Name, a.PasswordHash, a.Role, encodeJSON(nonNil(a.TeamIDs)), a.Disabled, ms(a.UpdatedAt))
		if isUnique(err) {
			return conflict("an admin account named %q already exists", a.Name)
		}
		if err != nil {
			return fmt.Errorf("store: update admin account: %w", err)
		}
		return nil
	})
	if len(a.TeamIDs) == 0 {
		a.TeamIDs = nil
	}
	return a, err
}

// DeleteAdminAccount removes the account ref. Its audit rows stay: they
// carry the actor's name, not a reference.
func (s *Store) DeleteAdminAccount(ctx context.Context, ref string) error {
	return s.write(ctx, func(tx *sql.Tx) error {
		a, err := getAccount(ctx, tx, ref)
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM admin_accounts WHERE id = $1`, a.ID); err != nil {
			return fmt.Errorf("store: delete admin account: %w", err)
		}
		return nil
	})
}

// TouchAdminLogin records a successful sign-in of account id at at.
func (s *Store) TouchAdminLogin(ctx context.Context, id string, at time.Time) error {
	if _, err := s.w.ExecContext(ctx, `UPDATE admin_accounts SET last_login_at = $2 WHERE id = $1`, id, ms(at)); err != nil {
		return fmt.Errorf("store: record sign-in: %w", err)
	}
	return nil
}

// ---- tokens ----

const tokenColumns = `id, name, prefix, secret_hash, role, team_ids, expires_at, created_by, created_at, last_used_at, revoked_at`

func scanToken(sc scanner) (AdminToken, error) {
	var t AdminToken
	var teams string
	var created int64
	var expires, used, revoked sql.NullInt64
	if err := sc.Scan(&t.ID, &t.Name, &t.Prefix, &t.SecretHash, &t.Role, &teams, &expires, &t.CreatedBy,
		&created, &used, &revoked); err != nil {
		return t, err
	}
	var err error
	if t.TeamIDs, err = decodeTeams(teams); err != nil {
		return t, fmt.Errorf("token %s: team_ids: %w", t.ID, err)
	}
	t.ExpiresAt, t.CreatedAt = fromMS(expires.Int64), fromMS(created)
	t.LastUsedAt, t.RevokedAt = fromMS(used.Int64), fromMS(revoked.Int64)
	return t, nil
}

// CreateAdminToken creates a token and returns it with its secret, which
// is returned only here. t.TeamIDs may be team ids or names.
func (s *Store) CreateAdminToken(ctx context.Context, t AdminToken) (AdminToken, string, error) {
	if err := checkName("token name", t.Name); err != nil {
		return AdminToken{}, "", err
	}
	secret := NewSecret(AdminTokenPrefix)
	t.ID = newID("tok")
	t.Prefix = secret[:len(AdminTokenPrefix)+8]
	t.SecretHash = HashSecret(secret)
	t.CreatedAt = s.createdAt(t.CreatedAt)
	t.LastUsedAt, t.RevokedAt = time.Time{}, time.Time{}
	if !t.ExpiresAt.IsZero() {
		t.ExpiresAt = time.UnixMilli(t.ExpiresAt.UnixMilli()).UTC()
	}
	err := s.write(ctx, func(tx *sql.Tx) error {
		var err error
		if t.TeamIDs, err = resolveTeams(ctx, tx, t.TeamIDs); err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, `INSERT INTO admin_tokens
			(id, name, prefix, secret_hash, role, team_ids, expires_at, created_by, created_at)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`,
			t.ID, t.Name, t.Prefix, t.SecretHash, t.Role, encodeJSON(nonNil(t.TeamIDs)), nullMS(t.ExpiresAt),
			t.CreatedBy, ms(t.CreatedAt))
		if isUnique(err) {
			return conflict("an admin token named %q already exists", t.Name)
		}
		if err != nil {
			return fmt.Errorf("store: create admin token: %w", err)
		}
		return nil
	})
	if err != nil {
		return AdminToken{}, "", err
	}
	if len(t.TeamIDs) == 0 {
		t.TeamIDs = nil
	}
	return t, secret, nil
}

// GetAdminToken returns the token whose id or name is ref.
func (s *Store) GetAdminToken(ctx context.Context, ref string) (AdminToken, error) {
	return getToken(ctx, s.r, ref)
}

func getToken(ctx context.Context, q queryer, ref string) (AdminToken, error) {
	t, err := scanToken(q.QueryRowContext(ctx, `SELECT `+tokenColumns+` FROM admin_tokens
		WHERE id = $1 OR name = $1 ORDER BY CASE WHEN id = $1 THEN 0 ELSE 1 END LIMIT 1`, ref))
	if errors.Is(err, sql.ErrNoRows) {
		return t, notFound("admin token %q not found", ref)
	}
	if err != nil {
		return t, fmt.Errorf("store: get admin token: %w", err)
	}
	return t, nil
}

// AdminTokenByHash returns the token whose secret hashes to hash
// (HashSecret), revoked and expired ones included: the caller decides.
func (s *Store) AdminTokenByHash(ctx context.Context, hash string) (AdminToken, error) {
	t, err := scanToken(s.r.QueryRowContext(ctx, `SELECT `+tokenColumns+` FROM admin_tokens WHERE secret_hash = $1`, hash))
	if errors.Is(err, sql.ErrNoRows) {
		return t, notFound("no such admin token")
	}
	if err != nil {
		return t, fmt.Errorf("store: find admin token: %w", err)
	}
	return t, nil
}

// ListAdminTokens returns every token, revoked ones included, by name.
func (s *Store) ListAdminTokens(ctx context.Context) ([]AdminToken, error) {
	return queryAll(ctx, s.r, "list admin tokens", scanToken, `SELECT `+tokenColumns+` FROM admin_tokens ORDER BY name`)
}

// RevokeAdminToken revokes the token ref at at; revoking a revoked token
// keeps its first revocation time.
func (s *Store) RevokeAdminToken(ctx context.Context, ref string, at time.Time) (AdminToken, error) {
	var t AdminToken
	err := s.write(ctx, func(tx *sql.Tx) error {
		var err error
		if t, err = getToken(ctx, tx, ref); err != nil {
			return err
		}
		if !t.RevokedAt.IsZero() {
			return nil
		}
		t.RevokedAt = s.createdAt(at)
		if _, err := tx.ExecContext(ctx, `UPDATE admin_tokens SET revoked_at = $2 WHERE id = $1`, t.ID, ms(t.RevokedAt)); err != nil {
			return fmt.Errorf("store: revoke admin token: %w", err)
		}
		return nil
	})
	return t, err
}

// TouchAdminToken records that token id was used at at. It writes at most
// once a minute per token, so automation polling the API does not turn
// every read into a write.
func (s *Store) TouchAdminToken(ctx context.Context, id string, at time.Time) error {
	if _, err := s.w.ExecContext(ctx, `UPDATE admin_tokens SET last_used_at = $2
		WHERE id = $1 AND (last_used_at IS NULL OR last_used_at < $3)`, id, ms(at), ms(at)-60_000); err != nil {
		return fmt.Errorf("store: record token use: %w", err)
	}
	return nil
}
