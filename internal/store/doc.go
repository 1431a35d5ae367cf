// Package store persists Tollgate's users, teams, virtual keys, budgets, rate
// limits, the admin credential and metered usage, in SQLite (the default: one
// file, no service to run) or PostgreSQL (for several replicas).
//
// Both engines share every SQL statement; only the embedded migrations are
// written per engine. Ids are readable strings ("usr_…", "team_…", "key_…",
// "bdg_…", "lim_…"), times are unix milliseconds and money is integer
// micro-USD in the database, so sums are exact on both engines.
//
// Usage is written twice in one transaction: the raw row (kept for a
// retention period, see PurgeUsage) and hourly rollups per key, user, team and
// model, and per tag and model. Charts, usage queries and budget counters
// (SpendSince) read only the rollups, so their cost does not grow with
// traffic. The consequence is that every period boundary is rounded down to a
// whole UTC hour: see SpendSince.
//
// The request path never queries the store: the gateway loads an AuthSnapshot
// at start and after every change, and writes usage through one batched
// writer (InsertUsage).
package store
