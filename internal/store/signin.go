package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
)

// SignInState is a sign-in begun at the identity provider and not yet
// completed: what the callback needs to finish it on any replica.
type SignInState struct {
	StateHash string // hex SHA-256 of the state parameter (HashSecret)
	Nonce     string // the ID token must carry it
	Verifier  string // PKCE code verifier
	ReturnTo  string // where the flow goes after the sign-in
	ExpiresAt time.Time
	CreatedAt time.Time
}

// CreateSignInState stores a begun sign-in. It also deletes states that
// expired before now, so that abandoned sign-ins do not pile up.
func (s *Store) CreateSignInState(ctx context.Context, st SignInState) error {
	if st.StateHash == "" || st.ExpiresAt.IsZero() {
		return invalid("a sign-in state needs a hash and an expiry")
	}
	now := s.now()
	st.CreatedAt = s.createdAt(st.CreatedAt)
	return s.write(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `DELETE FROM signin_states WHERE expires_at <= $1`, now.UnixMilli()); err != nil {
			return fmt.Errorf("store: purge sign-in states: %w", err)
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO signin_states (state_hash, nonce, verifier, return_to, expires_at, created_at)
			VALUES ($1, $2, $3, $4, $5, $6)`, st.StateHash, st.Nonce, st.Verifier, st.ReturnTo, ms(st.ExpiresAt), ms(st.CreatedAt))
		if isUnique(err) {
			return conflict("sign-in state exists")
		}
		if err != nil {
			return fmt.Errorf("store: create sign-in state: %w", err)
		}
		return nil
	})
}

// TakeSignInState removes the sign-in state with the given hash and returns
// it: a state can be used once. An unknown state, or one that expired
// before now, is ErrNotFound.
func (s *Store) TakeSignInState(ctx context.Context, stateHash string, now time.Time) (SignInState, error) {
	var st SignInState
	err := s.write(ctx, func(tx *sql.Tx) error {
		var exp, created int64
		err := tx.QueryRowContext(ctx, `DELETE FROM signin_states WHERE state_hash = $1
			RETURNING state_hash, nonce, verifier, return_to, expires_at, created_at`, stateHash).
			Scan(&st.StateHash, &st.Nonce, &st.Verifier, &st.ReturnTo, &exp, &created)
		if errors.Is(err, sql.ErrNoRows) {
			return notFound("no such sign-in in progress")
		}
		if err != nil {
			return fmt.Errorf("store: take sign-in state: %w", err)
		}
		st.ExpiresAt, st.CreatedAt = fromMS(exp), fromMS(created)
		return nil
	})
	if err != nil {
		return SignInState{}, err
	}
	if !now.Before(st.ExpiresAt) {
		return SignInState{}, notFound("the sign-in expired; start again")
	}
	return st, nil
}

// Identity is a person as an identity provider names them.
type Identity struct {
	Issuer  string
	Subject string // the configured user-id claim
	Email   string
	Name    string
	Groups  []string
}

// SignInPlan says what a sign-in gives the user beyond the identity link:
// the teams they belong to by their groups, and, for a user created now,
// their budget and rate limit.
type SignInPlan struct {
	// Teams the user must be a member of (created when missing).
	Teams []string
	// Managed are the teams that group mappings control: the user is
	// removed from those of them not in Teams. Teams joined by hand are
	// left alone.
	Managed []string
	// Budget and Limit are created on a new user; nil for none.
	Budget *Budget
	Limit  *Limit
}

// SignInResult is the user behind a completed sign-in.
type SignInResult struct {
	User    User
	Created bool // the user appeared by themselves on this sign-in
}

// SignInUser finds or creates the user of an identity, in one transaction:
// the first sign-in creates the user (named after the email, or the subject
// when there is none, with a numeric suffix when taken) and its budget and
// rate limit; every sign-in brings the team memberships in step with the
// plan and records the email and groups seen. A disabled user is returned
// as it is: the caller refuses it.
func (s *Store) SignInUser(ctx context.Context, id Identity, plan SignInPlan) (SignInResult, error) {
	if id.Issuer == "" || id.Subject == "" {
		return SignInResult{}, invalid("an identity needs an issuer and a subject")
	}
	now := s.now().UnixMilli()
	var res SignInResult
	err := s.write(ctx, func(tx *sql.Tx) error {
		var uid string
		err := tx.QueryRowContext(ctx, `SELECT user_id FROM identities WHERE issuer = $1 AND subject = $2`,
			id.Issuer, id.Subject).Scan(&uid)
		switch {
		case errors.Is(err, sql.ErrNoRows):
			u, err := s.createSignInUser(ctx, tx, id, plan)
			if err != nil {
				return err
			}
			uid, res.Created = u.ID, true
			if _, err := tx.ExecContext(ctx, `INSERT INTO identities (issuer, subject, user_id, email, group_names, created_at, last_seen_at)
				VALUES ($1, $2, $3, $4, $5, $6, $6)`, id.Issuer, id.Subject, uid, id.Email, encodeJSON(nonNil(id.Groups)), now); err != nil {
				return fmt.Errorf("store: link identity: %w", err)
			}
		case err != nil:
			return fmt.Errorf("store: find identity: %w", err)
		default:
			if _, err := tx.ExecContext(ctx, `UPDATE identities SET email = $3, group_names = $4, last_seen_at = $5
				WHERE issuer = $1 AND subject = $2`, id.Issuer, id.Subject, id.Email, encodeJSON(nonNil(id.Groups)), now); err != nil {
				return fmt.Errorf("store: update identity: %w", err)
			}
		}
		if err := syncTeams(ctx, tx, uid, plan, now); err != nil {
			return err
		}
		u, err := getUser(ctx, tx, uid)
		if err != nil {
			return err
		}
		res.User = u
		return nil
	})
	return res, err
}

// createSignInUser creates the user of a first sign-in with its budget and
// rate limit.
func (s *Store) createSignInUser(ctx context.Context, tx *sql.Tx, id Identity, plan SignInPlan) (User, error) {
	base := strings.TrimSpace(id.Email)
	if base == "" {
		base = id.Subject
	}
	if len(base) > 90 {
		base = base[:90]
	}
	u := User{ID: newID("usr"), Email: id.Email, CreatedAt: s.createdAt(time.Time{})}
	for i := 1; ; i++ {
		u.Name = base
		if i > 1 {
			u.Name = base + "-" + strconv.Itoa(i)
		}
		if err := checkName("user name", u.Name); err != nil {
			return User{}, err
		}
		var taken int
		if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM users WHERE name = $1`, u.Name).Scan(&taken); err != nil {
			return User{}, fmt.Errorf("store: create user: %w", err)
		}
		if taken == 0 {
			break
		}
		if i > 100 {
			return User{}, conflict("no free user name for %q", base)
		}
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO users (id, name, email, disabled, created_at) VALUES ($1, $2, $3, $4, $5)`,
		u.ID, u.Name, u.Email, false, ms(u.CreatedAt)); err != nil {
		return User{}, fmt.Errorf("store: create user: %w", err)
	}
	if plan.Budget != nil {
		b := *plan.Budget
		b.ScopeKind, b.ScopeID = ScopeUser, u.ID
		if err := s.prepareBudget(&b); err != nil {
			return User{}, err
		}
		if err := insertBudget(ctx, tx, &b, u.Name); err != nil {
			return User{}, err
		}
	}
	if plan.Limit != nil {
		l := *plan.Limit
		l.ScopeKind, l.ScopeID = ScopeUser, u.ID
		if err := s.prepareLimit(&l); err != nil {
			return User{}, err
		}
		if err := insertLimit(ctx, tx, &l, u.Name); err != nil {
			return User{}, err
		}
	}
	return u, nil
}

// syncTeams makes the user a member of plan.Teams, creating missing teams,
// and removes them from the managed teams they are no longer in.
func syncTeams(ctx context.Context, tx *sql.Tx, uid string, plan SignInPlan, now int64) error {
	for _, name := range plan.Teams {
		var tid string
		err := tx.QueryRowContext(ctx, `SELECT id FROM teams WHERE name = $1`, name).Scan(&tid)
		if errors.Is(err, sql.ErrNoRows) {
			if err := checkName("team name", name); err != nil {
				return err
			}
			tid = newID("team")
			if _, err := tx.ExecContext(ctx, `INSERT INTO teams (id, name, created_at) VALUES ($1, $2, $3)`, tid, name, now); err != nil {
				return fmt.Errorf("store: create team %q: %w", name, err)
			}
		} else if err != nil {
			return fmt.Errorf("store: find team %q: %w", name, err)
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO team_members (team_id, user_id, created_at) VALUES ($1, $2, $3)
			ON CONFLICT (team_id, user_id) DO NOTHING`, tid, uid, now); err != nil {
			return fmt.Errorf("store: add member: %w", err)
		}
	}
	for _, name := range plan.Managed {
		if slices.Contains(plan.Teams, name) {
			continue
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM team_members WHERE user_id = $1
			AND team_id IN (SELECT id FROM teams WHERE name = $2)`, uid, name); err != nil {
			return fmt.Errorf("store: remove member: %w", err)
		}
	}
	return nil
}

// UserIdentities returns the identities linked to a user, for the console.
func (s *Store) UserIdentities(ctx context.Context, userRef string) ([]Identity, error) {
	var out []Identity
	err := s.read(ctx, func(tx *sql.Tx) error {
		uid, err := resolve(ctx, tx, ScopeUser, userRef)
		if err != nil {
			return err
		}
		out, err = queryAll(ctx, tx, "list identities", func(sc scanner) (Identity, error) {
			var id Identity
			var groups string
			if err := sc.Scan(&id.Issuer, &id.Subject, &id.Email, &groups); err != nil {
				return id, err
			}
			return id, json.Unmarshal([]byte(groups), &id.Groups)
		}, `SELECT issuer, subject, email, group_names FROM identities WHERE user_id = $1 ORDER BY issuer, subject`, uid)
		return err
	})
	return out, err
}

// CIKey is what is kept about a key exchanged for a CI token.
type CIKey struct {
	KeyID      string
	Issuer     string
	Rule       string
	Repository string
	RunID      string
	Claims     map[string]any
	CreatedAt  time.Time
}

// CreateCIKey creates a short-lived key for a CI job together with its
// budget, rate limit and the token's claims, in one transaction.
func (s *Store) CreateCIKey(ctx context.Context, k Key, budget *Budget, limit *Limit, ci CIKey) (NewKey, error) {
	claims, err := json.Marshal(ci.Claims)
	if err != nil {
		return NewKey{}, invalid("claims: %v", err)
	}
	var nk NewKey
	err = s.write(ctx, func(tx *sql.Tx) error {
		var err error
		if nk, err = s.createKeyTx(ctx, tx, k, budget, limit); err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, `INSERT INTO ci_keys (key_id, issuer, rule, repository, run_id, claims, created_at)
			VALUES ($1, $2, $3, $4, $5, $6, $7)`, nk.Key.ID, ci.Issuer, ci.Rule, ci.Repository, ci.RunID, string(claims), ms(nk.Key.CreatedAt))
		if err != nil {
			return fmt.Errorf("store: record CI key: %w", err)
		}
		return nil
	})
	return nk, err
}

// GetCIKey returns what is kept about a CI key.
func (s *Store) GetCIKey(ctx context.Context, keyID string) (CIKey, error) {
	var c CIKey
	var claims string
	var created int64
	err := s.r.QueryRowContext(ctx, `SELECT key_id, issuer, rule, repository, run_id, claims, created_at FROM ci_keys WHERE key_id = $1`, keyID).
		Scan(&c.KeyID, &c.Issuer, &c.Rule, &c.Repository, &c.RunID, &claims, &created)
	if errors.Is(err, sql.ErrNoRows) {
		return CIKey{}, notFound("no CI key %q", keyID)
	}
	if err != nil {
		return CIKey{}, fmt.Errorf("store: get CI key: %w", err)
	}
	c.CreatedAt = fromMS(created)
	return c, json.Unmarshal([]byte(claims), &c.Claims)
}
