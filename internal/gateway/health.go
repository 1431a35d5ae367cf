package gateway

import (
	"context"
	"time"

	"github.com/tollgate-gw/tollgate/internal/usage"
)

// GatewayHealth is the Details of /readyz?verbose=1 (server.Health) for a
// gateway built by FromConfig.
type GatewayHealth struct {
	Database DatabaseHealth `json:"database"`
	Usage    WriterHealth   `json:"usage_writer"`
	// Replicas is there on PostgreSQL, where several replicas may share
	// the database.
	Replicas *ReplicasHealth `json:"replicas,omitempty"`
	// ConfigReload is the last config file reload (SIGHUP), if any.
	ConfigReload *ReloadHealth `json:"config_reload,omitempty"`
}

// ReplicasHealth says whether this replica hears the others' changes and
// reaches the budget leases. Neither decides readiness: without the feed,
// changes still arrive with the periodic reload; without the leases, calls
// are served from the leases in hand, then the outage policy applies.
type ReplicasHealth struct {
	ChangeFeed *ChangeFeedHealth `json:"change_feed"`
	// LeaseFailures counts the budget lease and flush calls that failed
	// since the start; LeaseError is the last one's error while the
	// latest call failed.
	LeaseFailures int64  `json:"lease_failures"`
	LeaseError    string `json:"lease_error,omitempty"`
}

// ChangeFeedHealth is the state of the LISTEN connection.
type ChangeFeedHealth struct {
	Listening bool   `json:"listening"`
	Error     string `json:"error,omitempty"`
}

// DatabaseHealth says whether the database answers. It does not decide
// readiness: keys and budgets are served from memory, and usage is spilled
// to disk while the database is away.
type DatabaseHealth struct {
	Engine    string `json:"engine"`
	Reachable bool   `json:"reachable"`
	Error     string `json:"error,omitempty"`
}

// WriterHealth is the usage writer's state: whether usage is safe, what
// waits, and what happened to the records since the start.
type WriterHealth struct {
	Ready         bool       `json:"ready"`
	Backlog       int        `json:"backlog"` // records waiting in memory
	QueueCapacity int        `json:"queue_capacity"`
	Written       int64      `json:"written"`
	FailedWrites  int64      `json:"failed_writes"`
	Spilled       int64      `json:"spilled"`
	Replayed      int64      `json:"replayed"`
	Quarantined   int64      `json:"quarantined"`
	Dropped       int64      `json:"dropped"`
	SpillBytes    int64      `json:"spill_bytes"`
	SpillPath     string     `json:"spill_path,omitempty"`
	LastWrite     *time.Time `json:"last_write,omitempty"`
	FailingSince  *time.Time `json:"failing_since,omitempty"`
	LastError     string     `json:"last_error,omitempty"`
}

// pinger is what the health check needs of the store.
type pinger interface {
	Ping(ctx context.Context) error
	Engine() string
}

// gatewayHealth gathers the details of /readyz?verbose=1.
func gatewayHealth(ctx context.Context, db pinger, w *usage.Writer, queueCapacity int, spillPath string) GatewayHealth {
	h := GatewayHealth{Database: DatabaseHealth{Engine: db.Engine(), Reachable: true}}
	if err := db.Ping(ctx); err != nil {
		h.Database.Reachable, h.Database.Error = false, err.Error()
	}
	st := w.Stats()
	h.Usage = WriterHealth{
		Ready: w.Ready() == nil, Backlog: st.Depth, QueueCapacity: queueCapacity,
		Written: st.Written, FailedWrites: st.FailedFlushes, Spilled: st.Spilled, Replayed: st.Replayed,
		Quarantined: st.Quarantined, Dropped: st.Dropped, SpillBytes: st.SpillBytes, SpillPath: spillPath,
		LastError: st.LastError,
	}
	if !st.LastWrite.IsZero() {
		t := st.LastWrite.UTC()
		h.Usage.LastWrite = &t
	}
	if !st.FailingSince.IsZero() {
		t := st.FailingSince.UTC()
		h.Usage.FailingSince = &t
	}
	return h
}
