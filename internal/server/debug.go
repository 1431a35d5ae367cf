package server

import (
	"net/http"
	"net/http/pprof"
)

// DebugHandler serves the Go runtime's profiles and execution traces under
// /debug/pprof/, for the opt-in debug listener (server.debug_listen): CPU
// (/debug/pprof/profile?seconds=N), heap, allocs, goroutine, block, mutex,
// threadcreate, and an execution trace (/debug/pprof/trace?seconds=N) that
// shows where a stall came from (GC, the scheduler, a blocked syscall). It is
// built explicitly rather than by importing net/http/pprof for its side
// effect, so that nothing lands on http.DefaultServeMux and the main
// listener can never serve it by accident.
func DebugHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /debug/pprof/", pprof.Index)
	mux.HandleFunc("GET /debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("GET /debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("GET /debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("POST /debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("GET /debug/pprof/trace", pprof.Trace)
	return mux
}
