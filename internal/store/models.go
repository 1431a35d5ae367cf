package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"
	"unicode/utf8"
)

// Model is a model added at run time (admin API, tollgate models add). It
// has the shape of a config file model, so that the gateway merges the two
// by converting, not by interpreting: a public name, the targets in order
// with their routing settings and drop rules, and optionally its own price.
// Whether its providers exist and its upstream ids suit them is the
// gateway's to check, against the config in force; the store checks what
// holds whatever the config.
type Model struct {
	// Name is the public name clients send; unique ignoring case.
	Name string
	// DisplayName is shown in /v1/models; "" means Name.
	DisplayName string
	// Strategy is "" (ordered), "ordered", "weighted" or "least-busy".
	Strategy string
	// DropBetas and DropFields apply to every target.
	DropBetas, DropFields []string
	// Targets are tried in order (after the strategy's pick).
	Targets []ModelTarget
	// Price, when set, is the model's own price; nil takes the config
	// file's prices or the built-in catalog's.
	Price *ModelPrice

	CreatedAt, UpdatedAt time.Time
	// UpdatedBy names who made the last change (an admin principal).
	UpdatedBy string
}

// ModelTarget is one upstream deployment of a Model, with the fields of a
// config file target.
type ModelTarget struct {
	Provider      string        `json:"provider"`
	Model         string        `json:"model"`
	Weight        *int          `json:"weight,omitempty"`
	MaxConcurrent int           `json:"max_concurrent,omitempty"`
	QueueTimeout  time.Duration `json:"-"`
	DropBetas     []string      `json:"drop_betas,omitempty"`
	DropFields    []string      `json:"drop_fields,omitempty"`
}

// modelTargetJSON is a ModelTarget as stored: the queue timeout in
// milliseconds, like every other time in the schema.
type modelTargetJSON struct {
	ModelTarget
	QueueTimeoutMS int64 `json:"queue_timeout_ms,omitempty"`
}

// ModelPrice is a price in USD per million tokens, by kind, as the config
// file's prices: entries are written.
type ModelPrice struct {
	Input        float64 `json:"input"`
	Output       float64 `json:"output"`
	CacheWrite5m float64 `json:"cache_write_5m"`
	CacheWrite1h float64 `json:"cache_write_1h"`
	CacheRead    float64 `json:"cache_read"`
}

// modelStrategies are the values Model.Strategy may take; "" is ordered.
var modelStrategies = []string{"", "ordered", "weighted", "least-busy"}

// cleanModel normalizes m in place (spaces around ids trimmed, rule lists
// de-duplicated in order) and checks what a model must satisfy whatever the
// config. Messages name the field as the admin API spells it.
func cleanModel(m *Model) error {
	switch {
	case m.Name == "":
		return invalid("name: must not be empty")
	case utf8.RuneCountInString(m.Name) > 200:
		return invalid("name: longer than 200 characters")
	case !utf8.ValidString(m.Name) || strings.ContainsFunc(m.Name, func(r rune) bool { return r <= ' ' || r == 0x7f }):
		return invalid("name: %q must not contain spaces or control characters", m.Name)
	case len(m.Name) > 4 && strings.EqualFold(m.Name[len(m.Name)-4:], "[1m]"):
		return invalid("name: %q: the [1m] suffix is reserved: clients add it to ask for the 1M context window of any model", m.Name)
	}
	m.DisplayName = strings.TrimSpace(m.DisplayName)
	if utf8.RuneCountInString(m.DisplayName) > 200 || strings.ContainsFunc(m.DisplayName, func(r rune) bool { return r < ' ' || r == 0x7f }) {
		return invalid("display_name: at most 200 characters, without control characters")
	}
	if !slices.Contains(modelStrategies, m.Strategy) {
		return invalid("strategy: %q is not one of ordered, weighted, least-busy", m.Strategy)
	}
	var err error
	if m.DropBetas, err = cleanList("drop_betas", m.DropBetas); err != nil {
		return err
	}
	if m.DropFields, err = cleanList("drop_fields", m.DropFields); err != nil {
		return err
	}
	if len(m.Targets) == 0 {
		return invalid("targets: at least one target is required")
	}
	if len(m.Targets) > 32 {
		return invalid("targets: at most 32 targets")
	}
	for i := range m.Targets {
		t := &m.Targets[i]
		path := fmt.Sprintf("targets[%d]", i)
		t.Provider, t.Model = strings.TrimSpace(t.Provider), strings.TrimSpace(t.Model)
		switch {
		case t.Provider == "":
			return invalid("%s.provider: required", path)
		case t.Model == "":
			return invalid("%s.model: required: the upstream model id", path)
		case len(t.Model) > 2048:
			return invalid("%s.model: longer than 2048 bytes", path)
		case t.Weight != nil && *t.Weight < 0:
			return invalid("%s.weight: must not be negative", path)
		case t.MaxConcurrent < 0:
			return invalid("%s.max_concurrent: must not be negative (0 means no cap)", path)
		case t.QueueTimeout < 0:
			return invalid("%s.queue_timeout_ms: must not be negative (0 means the default)", path)
		}
		if t.DropBetas, err = cleanList(path+".drop_betas", t.DropBetas); err != nil {
			return err
		}
		if t.DropFields, err = cleanList(path+".drop_fields", t.DropFields); err != nil {
			return err
		}
	}
	if p := m.Price; p != nil {
		for _, f := range []struct {
			name string
			v    float64
		}{{"input", p.Input}, {"output", p.Output}, {"cache_write_5m", p.CacheWrite5m}, {"cache_write_1h", p.CacheWrite1h}, {"cache_read", p.CacheRead}} {
			if f.v < 0 || math.IsNaN(f.v) || math.IsInf(f.v, 0) || f.v > 1e6 {
				return invalid("price.%s: must be a number of USD per million tokens between 0 and 1000000", f.name)
			}
		}
	}
	return nil
}

// cleanList trims and de-duplicates a drop list, keeping its order.
func cleanList(field string, in []string) ([]string, error) {
	var out []string
	for i, s := range in {
		s = strings.TrimSpace(s)
		if s == "" || strings.ContainsAny(s, ", \t\r\n") {
			return nil, invalid("%s[%d]: %q: one name per entry, without commas or spaces", field, i, in[i])
		}
		if !slices.Contains(out, s) {
			out = append(out, s)
		}
	}
	return out, nil
}

const modelCols = `name, display_name, strategy, drop_betas, drop_fields, targets, price, created_at, updated_at, updated_by`

func scanModel(sc scanner) (Model, error) {
	var (
		m                      Model
		betas, fields, targets string
		price                  sql.NullString
		created, updated       int64
	)
	if err := sc.Scan(&m.Name, &m.DisplayName, &m.Strategy, &betas, &fields, &targets, &price, &created, &updated, &m.UpdatedBy); err != nil {
		return Model{}, err
	}
	m.CreatedAt, m.UpdatedAt = fromMS(created), fromMS(updated)
	if err := json.Unmarshal([]byte(betas), &m.DropBetas); err != nil {
		return Model{}, fmt.Errorf("model %q: drop_betas: %w", m.Name, err)
	}
	if err := json.Unmarshal([]byte(fields), &m.DropFields); err != nil {
		return Model{}, fmt.Errorf("model %q: drop_fields: %w", m.Name, err)
	}
	if len(m.DropBetas) == 0 {
		m.DropBetas = nil
	}
	if len(m.DropFields) == 0 {
		m.DropFields = nil
	}
	var ts []modelTargetJSON
	if err := json.Unmarshal([]byte(targets), &ts); err != nil {
		return Model{}, fmt.Errorf("model %q: targets: %w", m.Name, err)
	}
	m.Targets = make([]ModelTarget, len(ts))
	for i, t := range ts {
		t.ModelTarget.QueueTimeout = time.Duration(t.QueueTimeoutMS) * time.Millisecond
		m.Targets[i] = t.ModelTarget
	}
	if price.Valid {
		m.Price = &ModelPrice{}
		if err := json.Unmarshal([]byte(price.String), m.Price); err != nil {
			return Model{}, fmt.Errorf("model %q: price: %w", m.Name, err)
		}
	}
	return m, nil
}

// modelArgs are m's columns after the name, in modelCols order, for the
// INSERT and the UPDATE.
func modelArgs(m *Model) []any {
	ts := make([]modelTargetJSON, len(m.Targets))
	for i, t := range m.Targets {
		ts[i] = modelTargetJSON{ModelTarget: t, QueueTimeoutMS: t.QueueTimeout.Milliseconds()}
	}
	var price sql.NullString
	if m.Price != nil {
		price = sql.NullString{String: encodeJSON(m.Price), Valid: true}
	}
	return []any{m.DisplayName, m.Strategy, encodeJSON(nonNil(m.DropBetas)), encodeJSON(nonNil(m.DropFields)),
		encodeJSON(ts), price, ms(m.CreatedAt), ms(m.UpdatedAt), m.UpdatedBy}
}

// CreateModel stores a new runtime model. Its name must be free, ignoring
// case (ErrConflict); CreatedAt and UpdatedAt default to now.
func (s *Store) CreateModel(ctx context.Context, m Model) (Model, error) {
	if err := cleanModel(&m); err != nil {
		return Model{}, err
	}
	m.CreatedAt = s.createdAt(m.CreatedAt)
	m.UpdatedAt = m.CreatedAt
	args := append([]any{m.Name, strings.ToLower(m.Name)}, modelArgs(&m)...)
	_, err := s.w.ExecContext(ctx, `INSERT INTO models (name, name_fold, display_name, strategy, drop_betas, drop_fields, targets, price, created_at, updated_at, updated_by)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)`, args...)
	if isUnique(err) {
		return Model{}, conflict("a model named %q already exists (names are unique ignoring case)", m.Name)
	}
	if err != nil {
		return Model{}, fmt.Errorf("store: create model: %w", err)
	}
	return m, nil
}

// GetModel returns the runtime model named name, ignoring case.
func (s *Store) GetModel(ctx context.Context, name string) (Model, error) {
	return getModel(ctx, s.r, name)
}

func getModel(ctx context.Context, q queryer, name string) (Model, error) {
	m, err := scanModel(q.QueryRowContext(ctx, `SELECT `+modelCols+` FROM models WHERE name_fold = $1`, strings.ToLower(name)))
	if errors.Is(err, sql.ErrNoRows) {
		return Model{}, notFound("model %q not found among the runtime models", name)
	}
	if err != nil {
		return Model{}, fmt.Errorf("store: get model: %w", err)
	}
	return m, nil
}

// ListModels returns every runtime model, by name.
func (s *Store) ListModels(ctx context.Context) ([]Model, error) {
	return queryAll(ctx, s.r, "list models", scanModel, `SELECT `+modelCols+` FROM models ORDER BY name`)
}

// UpdateModel applies fn to the runtime model named name and saves the
// result; fn may change everything but CreatedAt, including the name.
// UpdatedAt is set to now unless fn sets it (the admin API's clock).
func (s *Store) UpdateModel(ctx context.Context, name string, fn func(*Model) error) (Model, error) {
	var out Model
	err := s.write(ctx, func(tx *sql.Tx) error {
		m, err := getModel(ctx, tx, name)
		if err != nil {
			return err
		}
		old, created := m.Name, m.CreatedAt
		m.UpdatedAt = time.Time{} // fn may set it; else now
		if err := fn(&m); err != nil {
			return err
		}
		if err := cleanModel(&m); err != nil {
			return err
		}
		m.CreatedAt = created
		m.UpdatedAt = s.createdAt(m.UpdatedAt)
		args := append([]any{old, m.Name, strings.ToLower(m.Name)}, modelArgs(&m)...)
		_, err = tx.ExecContext(ctx, `UPDATE models SET name = $2, name_fold = $3, display_name = $4, strategy = $5, drop_betas = $6,
			drop_fields = $7, targets = $8, price = $9, created_at = $10, updated_at = $11, updated_by = $12 WHERE name = $1`, args...)
		if isUnique(err) {
			return conflict("a model named %q already exists (names are unique ignoring case)", m.Name)
		}
		if err != nil {
			return fmt.Errorf("store: update model: %w", err)
		}
		out = m
		return nil
	})
	return out, err
}

// DeleteModel deletes the runtime model named name, ignoring case.
func (s *Store) DeleteModel(ctx context.Context, name string) error {
	res, err := s.w.ExecContext(ctx, `DELETE FROM models WHERE name_fold = $1`, strings.ToLower(name))
	if err != nil {
		return fmt.Errorf("store: delete model: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return notFound("model %q not found among the runtime models", name)
	}
	return nil
}
