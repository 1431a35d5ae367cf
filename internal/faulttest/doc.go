// Package faulttest holds process-level fault tests of a deployment of
// several `tollgate serve` replicas on one PostgreSQL: a replica killed with
// SIGKILL under load, and the database restarted under load. They start the
// real binary (built once per test run), the Bedrock simulator on loopback
// and, for the restart, a private PostgreSQL cluster, and check what the
// database holds afterwards against what the clients were answered, call by
// call (request ids).
//
// The package has no code of its own; its tests need PostgreSQL
// (TOLLGATE_TEST_POSTGRES_URL, and root with the Debian postgresql package
// for the private cluster) and fail instead of skipping when CI=true.
package faulttest
