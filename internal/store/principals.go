package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"
)

// Every reference to a user, team or key accepts either its id or its name
// (a key's alias), so the CLI can say --user alice. An exact id match wins
// over a name that happens to look like an id.
var resolveSQL = map[string]string{
	ScopeUser: `SELECT id FROM users WHERE id = $1 OR name = $1 ORDER BY CASE WHEN id = $1 THEN 0 ELSE 1 END LIMIT 1`,
	ScopeTeam: `SELECT id FROM teams WHERE id = $1 OR name = $1 ORDER BY CASE WHEN id = $1 THEN 0 ELSE 1 END LIMIT 1`,
	ScopeKey:  `SELECT id FROM keys WHERE id = $1 OR alias = $1 ORDER BY CASE WHEN id = $1 THEN 0 ELSE 1 END LIMIT 1`,
}

// resolve returns the id of the user, team or key (kind) named ref.
func resolve(ctx context.Context, q queryer, kind, ref string) (string, error) {
	query, ok := resolveSQL[kind]
	if !ok {
		return "", invalid("unknown scope %q: want key, user or team", kind)
	}
	if ref == "" {
		return "", invalid("empty %s reference", kind)
	}
	var id string
	err := q.QueryRowContext(ctx, query, ref).Scan(&id)
	if errors.Is(err, sql.ErrNoRows) {
		return "", notFound("%s %q not found", kind, ref)
	}
	if err != nil {
		return "", fmt.Errorf("store: find %s %q: %w", kind, ref, err)
	}
	return id, nil
}

// Resolve returns the id of the key, user or team (kind is a Scope constant)
// whose id or name is ref.
func (s *Store) Resolve(ctx context.Context, kind, ref string) (string, error) {
	return resolve(ctx, s.r, kind, ref)
}

// checkName validates a user or team name or a key alias.
func checkName(what, name string) error {
	switch {
	case name == "":
		return invalid("%s must not be empty", what)
	case strings.TrimSpace(name) != name:
		return invalid("%s %q must not start or end with spaces", what, name)
	case utf8.RuneCountInString(name) > 200:
		return invalid("%s is longer than 200 characters", what)
	case !utf8.ValidString(name) || strings.ContainsFunc(name, func(r rune) bool { return r < 0x20 || r == 0x7f }):
		return invalid("%s %q contains control characters", what, name)
	}
	return nil
}

// ---- users ----

// CreateUser inserts u with a generated id. Name must be unique.
func (s *Store) CreateUser(ctx context.Context, u User) (User, error) {
	if err := checkName("user name", u.Name); err != nil {
		return User{}, err
	}
	u.ID = newID("usr")
	u.CreatedAt = s.createdAt(u.CreatedAt)
	u.TeamIDs = nil
	_, err := s.w.ExecContext(ctx, `INSERT INTO users (id, name, email, disabled, created_at) VALUES ($1, $2, $3, $4, $5)`,
		u.ID, u.Name, u.Email, u.Disabled, ms(u.CreatedAt))
	if isUnique(err) {
		return User{}, conflict("a user named %q already exists", u.Name)
	}
	if err != nil {
		return User{}, fmt.Errorf("store: create user: %w", err)
	}
	return u, nil
}

const userCols = `id, name, email, disabled, created_at`

func scanUser(sc scanner) (User, error) {
	var u User
	var created int64
	err := sc.Scan(&u.ID, &u.Name, &u.Email, &u.Disabled, &created)
	u.CreatedAt = fromMS(created)
	return u, err
}

// GetUser returns the user whose id or name is ref.
func (s *Store) GetUser(ctx context.Context, ref string) (User, error) {
	return getUser(ctx, s.r, ref)
}

func getUser(ctx context.Context, q queryer, ref string) (User, error) {
	id, err := resolve(ctx, q, ScopeUser, ref)
	if err != nil {
		return User{}, err
	}
	u, err := scanUser(q.QueryRowContext(ctx, `SELECT `+userCols+` FROM users WHERE id = $1`, id))
	if err != nil {
		return User{}, fmt.Errorf("store: get user: %w", err)
	}
	u.TeamIDs, err = column(ctx, q, `SELECT team_id FROM team_members WHERE user_id = $1 ORDER BY team_id`, id)
	return u, err
}

// ListUsers returns every user, by name.
func (s *Store) ListUsers(ctx context.Context) ([]User, error) {
	var users []User
	err := s.read(ctx, func(tx *sql.Tx) (err error) {
		users, err = listUsers(ctx, tx)
		return err
	})
	return users, err
}

func listUsers(ctx context.Context, q queryer) ([]User, error) {
	users, err := queryAll(ctx, q, "list users", scanUser, `SELECT `+userCols+` FROM users ORDER BY name`)
	if err != nil {
		return nil, err
	}
	index := make(map[string]int, len(users))
	for i, u := range users {
		index[u.ID] = i
	}
	err = pairs(ctx, q, `SELECT user_id, team_id FROM team_members ORDER BY user_id, team_id`, func(uid, tid string) {
		if i, ok := index[uid]; ok {
			users[i].TeamIDs = append(users[i].TeamIDs, tid)
		}
	})
	return users, err
}

// UpdateUser applies fn to the user named ref and saves the result. fn may
// change Name, Email and Disabled; other fields are ignored.
func (s *Store) UpdateUser(ctx context.Context, ref string, fn func(*User) error) (User, error) {
	var out User
	err := s.write(ctx, func(tx *sql.Tx) error {
		u, err := getUser(ctx, tx, ref)
		if err != nil {
			return err
		}
		if err := fn(&u); err != nil {
			return err
		}
		if err := checkName("user name", u.Name); err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, `UPDATE users SET name = $2, email = $3, disabled = $4 WHERE id = $1`,
			u.ID, u.Name, u.Email, u.Disabled)
		if isUnique(err) {
			return conflict("a user named %q already exists", u.Name)
		}
		if err != nil {
			return fmt.Errorf("store: update user: %w", err)
		}
		out, err = getUser(ctx, tx, u.ID)
		return err
	})
	return out, err
}

// DeleteUser deletes the user named ref, its team memberships and the
// budgets and limits on it. A user that still owns keys is not deleted
// (ErrConflict): delete or revoke-and-delete its keys first, so no key
// silently loses its owner and with it the owner's budget.
func (s *Store) DeleteUser(ctx context.Context, ref string) error {
	return s.deleteOwner(ctx, ScopeUser, "users", ref)
}

// deleteOwner deletes the user or team (kind) named ref from table, with the
// budgets and limits on it; the schema cascades to its memberships. It
// refuses (ErrConflict) while keys still belong to it.
func (s *Store) deleteOwner(ctx context.Context, kind, table, ref string) error {
	return s.write(ctx, func(tx *sql.Tx) error {
		id, err := resolve(ctx, tx, kind, ref)
		if err != nil {
			return err
		}
		var n int
		if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM keys WHERE `+scopeColumn[kind]+` = $1`, id).Scan(&n); err != nil {
			return fmt.Errorf("store: delete %s: %w", kind, err)
		}
		if n > 0 {
			return conflict("%s %q still owns %d key(s); delete them first", kind, ref, n)
		}
		if err := deleteScoped(ctx, tx, kind, id); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM `+table+` WHERE id = $1`, id); err != nil {
			return fmt.Errorf("store: delete %s: %w", kind, err)
		}
		return nil
	})
}

// deleteScoped deletes the budgets and limits on a key, user or team.
func deleteScoped(ctx context.Context, tx *sql.Tx, kind, id string) error {
	if _, err := tx.ExecContext(ctx, `DELETE FROM budgets WHERE scope_kind = $1 AND scope_id = $2`, kind, id); err != nil {
		return fmt.Errorf("store: delete budgets of %s %s: %w", kind, id, err)
	}
	if _, err := tx.ExecContext(ctx, `DELETE FROM rate_limits WHERE scope_kind = $1 AND scope_id = $2`, kind, id); err != nil {
		return fmt.Errorf("store: delete limits of %s %s: %w", kind, id, err)
	}
	return nil
}

// ---- teams ----

// CreateTeam inserts t with a generated id. Name must be unique.
func (s *Store) CreateTeam(ctx context.Context, t Team) (Team, error) {
	if err := checkName("team name", t.Name); err != nil {
		return Team{}, err
	}
	t.ID = newID("team")
	t.CreatedAt = s.createdAt(t.CreatedAt)
	t.MemberIDs = nil
	_, err := s.w.ExecContext(ctx, `INSERT INTO teams (id, name, created_at) VALUES ($1, $2, $3)`,
		t.ID, t.Name, ms(t.CreatedAt))
	if isUnique(err) {
		return Team{}, conflict("a team named %q already exists", t.Name)
	}
	if err != nil {
		return Team{}, fmt.Errorf("store: create team: %w", err)
	}
	return t, nil
}

func scanTeam(sc scanner) (Team, error) {
	var t Team
	var created int64
	err := sc.Scan(&t.ID, &t.Name, &created)
	t.CreatedAt = fromMS(created)
	return t, err
}

// GetTeam returns the team whose id or name is ref, with its members.
func (s *Store) GetTeam(ctx context.Context, ref string) (Team, error) {
	return getTeam(ctx, s.r, ref)
}

func getTeam(ctx context.Context, q queryer, ref string) (Team, error) {
	id, err := resolve(ctx, q, ScopeTeam, ref)
	if err != nil {
		return Team{}, err
	}
	t, err := scanTeam(q.QueryRowContext(ctx, `SELECT id, name, created_at FROM teams WHERE id = $1`, id))
	if err != nil {
		return Team{}, fmt.Errorf("store: get team: %w", err)
	}
	t.MemberIDs, err = column(ctx, q, `SELECT user_id FROM team_members WHERE team_id = $1 ORDER BY user_id`, id)
	return t, err
}

// ListTeams returns every team with its members, by name.
func (s *Store) ListTeams(ctx context.Context) ([]Team, error) {
	var teams []Team
	err := s.read(ctx, func(tx *sql.Tx) (err error) {
		teams, err = listTeams(ctx, tx)
		return err
	})
	return teams, err
}

func listTeams(ctx context.Context, q queryer) ([]Team, error) {
	teams, err := queryAll(ctx, q, "list teams", scanTeam, `SELECT id, name, created_at FROM teams ORDER BY name`)
	if err != nil {
		return nil, err
	}
	index := make(map[string]int, len(teams))
	for i, t := range teams {
		index[t.ID] = i
	}
	err = pairs(ctx, q, `SELECT team_id, user_id FROM team_members ORDER BY team_id, user_id`, func(tid, uid string) {
		if i, ok := index[tid]; ok {
			teams[i].MemberIDs = append(teams[i].MemberIDs, uid)
		}
	})
	return teams, err
}

// UpdateTeam applies fn to the team named ref and saves it. fn may change
// Name; other fields are ignored.
func (s *Store) UpdateTeam(ctx context.Context, ref string, fn func(*Team) error) (Team, error) {
	var out Team
	err := s.write(ctx, func(tx *sql.Tx) error {
		t, err := getTeam(ctx, tx, ref)
		if err != nil {
			return err
		}
		if err := fn(&t); err != nil {
			return err
		}
		if err := checkName("team name", t.Name); err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, `UPDATE teams SET name = $2 WHERE id = $1`, t.ID, t.Name)
		if isUnique(err) {
			return conflict("a team named %q already exists", t.Name)
		}
		if err != nil {
			return fmt.Errorf("store: update team: %w", err)
		}
		out, err = getTeam(ctx, tx, t.ID)
		return err
	})
	return out, err
}

// DeleteTeam deletes the team named ref, its memberships, budgets and
// limits. A team that still owns keys is not deleted (ErrConflict).
func (s *Store) DeleteTeam(ctx context.Context, ref string) error {
	return s.deleteOwner(ctx, ScopeTeam, "teams", ref)
}

// AddMember adds the user named userRef to the team named teamRef. Adding a
// member twice is not an error.
func (s *Store) AddMember(ctx context.Context, teamRef, userRef string) error {
	return s.write(ctx, func(tx *sql.Tx) error {
		tid, uid, err := resolveMember(ctx, tx, teamRef, userRef)
		if err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, `INSERT INTO team_members (team_id, user_id, created_at) VALUES ($1, $2, $3)
			ON CONFLICT (team_id, user_id) DO NOTHING`, tid, uid, s.now().UnixMilli())
		if err != nil {
			return fmt.Errorf("store: add member: %w", err)
		}
		return nil
	})
}

// RemoveMember removes the user named userRef from the team named teamRef.
func (s *Store) RemoveMember(ctx context.Context, teamRef, userRef string) error {
	return s.write(ctx, func(tx *sql.Tx) error {
		tid, uid, err := resolveMember(ctx, tx, teamRef, userRef)
		if err != nil {
			return err
		}
		res, err := tx.ExecContext(ctx, `DELETE FROM team_members WHERE team_id = $1 AND user_id = $2`, tid, uid)
		if err != nil {
			return fmt.Errorf("store: remove member: %w", err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return notFound("user %q is not a member of team %q", userRef, teamRef)
		}
		return nil
	})
}

// resolveMember returns the ids of the team and the user of a membership.
func resolveMember(ctx context.Context, tx *sql.Tx, teamRef, userRef string) (teamID, userID string, err error) {
	if teamID, err = resolve(ctx, tx, ScopeTeam, teamRef); err != nil {
		return "", "", err
	}
	if userID, err = resolve(ctx, tx, ScopeUser, userRef); err != nil {
		return "", "", err
	}
	return teamID, userID, nil
}

// column returns the single string column of a query.
func column(ctx context.Context, q queryer, query string, args ...any) ([]string, error) {
	rows, err := q.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("store: query: %w", err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var v string
		if err := rows.Scan(&v); err != nil {
			return nil, fmt.Errorf("store: query: %w", err)
		}
		out = append(out, v)
	}
	return out, rows.Err()
}

// pairs calls fn for each row of a two-string-column query.
func pairs(ctx context.Context, q queryer, query string, fn func(a, b string)) error {
	rows, err := q.QueryContext(ctx, query)
	if err != nil {
		return fmt.Errorf("store: query: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var a, b string
		if err := rows.Scan(&a, &b); err != nil {
			return fmt.Errorf("store: query: %w", err)
		}
		fn(a, b)
	}
	return rows.Err()
}
