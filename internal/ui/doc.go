// Package ui is Tollgate's web console, served by the gateway at /ui: pages
// rendered on the server with html/template from embedded templates and
// assets (go build needs no npm), charts drawn as SVG on the server, and a
// little JavaScript that only refreshes fragments and copies snippets.
//
// The console holds no admin logic of its own. Every read and write of
// admin data is an in-process call of the admin API (AdminAPI.ServeAs) on
// behalf of the signed-in principal, with Via set to "console", so that
// role checks and the audit log apply to the console exactly as they apply
// to the REST API and the CLI. Only the pages the admin API cannot answer
// (the list of recent calls and a single call) read the store directly,
// and they filter by the principal's teams themselves.
//
// Security: sessions are random 256-bit cookies stored as SHA-256 digests
// in the database (they survive restarts and work on every replica), with
// idle and absolute expiry; every POST carries the session's CSRF token and
// must come from the console's own origin; every answer carries a strict
// Content-Security-Policy with no inline script or style.
package ui
