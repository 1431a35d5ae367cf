package store

import (
	"time"
)

// Scope kinds: what a budget or a rate limit applies to.
const (
	ScopeKey  = "key"
	ScopeUser = "user"
	ScopeTeam = "team"
)

// Budget periods. Day, week (starting Monday) and month reset at midnight in
// the budget's time zone; total never resets.
const (
	PeriodDay   = "day"
	PeriodWeek  = "week"
	PeriodMonth = "month"
	PeriodTotal = "total"
)

// DefaultThresholds are the soft thresholds, in percent, of a budget created
// without any.
var DefaultThresholds = []int{50, 80, 100}

// User is a person (or a service) that owns keys and may belong to teams.
type User struct {
	ID        string // "usr_…", generated
	Name      string // unique; what the CLI and admin API accept in place of the id
	Email     string
	Disabled  bool // every key of a disabled user is refused
	CreatedAt time.Time
	TeamIDs   []string // teams the user belongs to, sorted; read-only here
}

// Team groups users; keys may belong to a team.
type Team struct {
	ID        string // "team_…", generated
	Name      string // unique
	CreatedAt time.Time
	MemberIDs []string // user ids, sorted; read-only here (AddMember, RemoveMember)
}

// Key is a virtual API key. The secret itself is never stored: only its
// SHA-256 (SecretHash) and a readable Prefix for lists.
type Key struct {
	ID         string // "key_…", generated
	Alias      string // unique; defaults to the id
	Prefix     string // "tg-" + the secret's first 8 characters after "tg-"
	SecretHash string // hex SHA-256 of the whole secret (HashSecret)
	UserID     string // owner user id, "" for none
	TeamID     string // owner team id, "" for none
	ExpiresAt  time.Time
	Models     []string          // allowed public model names; empty means all
	Tags       map[string]string // added to every usage row of the key (request tags win)
	Disabled   bool              // revoked
	CreatedAt  time.Time
	LastUsedAt time.Time // zero when never used; updated by InsertUsage

	// PrevSecretHash is the hash of the secret RotateKey replaced, still
	// accepted until PrevExpiresAt so that clients can move over without
	// an outage; "" when there is none.
	PrevSecretHash string
	PrevExpiresAt  time.Time
}

// Expired reports whether the key has expired at now.
func (k *Key) Expired(now time.Time) bool {
	return !k.ExpiresAt.IsZero() && !now.Before(k.ExpiresAt)
}

// Budget caps the spend of a key, user or team per period, in micro-USD
// and/or tokens (every kind counted: input, output, cache writes and reads).
type Budget struct {
	ID             string // "bdg_…", generated
	ScopeKind      string // ScopeKey, ScopeUser or ScopeTeam
	ScopeID        string // id of the key, user or team
	LimitUSDMicros *int64 // nil: no USD limit
	LimitTokens    *int64 // nil: no token limit
	Period         string // PeriodDay, PeriodWeek, PeriodMonth or PeriodTotal
	Timezone       string // IANA zone the period resets in; default "UTC"
	Thresholds     []int  // soft thresholds in percent, ascending; default 50, 80, 100
	// Mode is ModeEstimate (the default for new budgets) or ModeStrict;
	// see package limits.
	Mode string
	// Overdraft is how far spend may pass the limit in estimate mode: "5%",
	// "0.50" (USD) or "20000 tokens"; "" is the default,
	// limits.DefaultOverdraftPercent.
	Overdraft string
	CreatedAt time.Time
}

// Budget modes.
const (
	ModeEstimate = "estimate"
	ModeStrict   = "strict"
)

// Limit is a rate limit on a key, user or team. Zero means unlimited.
type Limit struct {
	ID         string // "lim_…", generated
	ScopeKind  string
	ScopeID    string
	RPM        int64 // requests per minute
	TPM        int64 // tokens per minute
	Concurrent int64 // requests in flight
	CreatedAt  time.Time
}

// Snapshot is everything the request path keeps in memory, read in one
// consistent transaction: authenticating a request and finding the budgets
// and limits that cover it must never touch the database.
type Snapshot struct {
	Keys    []Key
	Users   []User
	Teams   []Team
	Budgets []Budget
	Limits  []Limit
}
