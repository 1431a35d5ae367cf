package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"time"
)

// runProxy is the hidden `proxy` subcommand: the bare Go reverse proxy the
// gateway is compared with. It does what any proxy in front of Bedrock must
// do and nothing else — no auth, no budget, no metering, no logging per
// request — so that "gateway minus proxy" is the price of Tollgate's own
// work, not of being a second HTTP hop. It runs as its own process, like the
// gateway, so that its CPU time and memory are its own.
func runProxy(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("tollgate-bench proxy", flag.ContinueOnError)
	fs.SetOutput(stderr)
	listen := fs.String("listen", "127.0.0.1:0", "`address` to listen on")
	upstream := fs.String("upstream", "", "upstream base `URL` (the simulator)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	up, err := url.Parse(*upstream)
	if err != nil || up.Scheme == "" || up.Host == "" {
		return fmt.Errorf("proxy: --upstream %q: want a base URL such as http://127.0.0.1:4010", *upstream)
	}
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		return fmt.Errorf("proxy: listen: %w", err)
	}
	rp := &httputil.ReverseProxy{
		Rewrite: func(r *httputil.ProxyRequest) { r.SetURL(up) },
		// Streams are relayed frame by frame, as the gateway relays them;
		// buffering them would flatter the proxy's time to first byte.
		FlushInterval: -1,
		// The same pool size the gateway's Bedrock provider uses by
		// default, so that neither side pays for new connections the
		// other would not.
		Transport: &http.Transport{
			Proxy:               nil, // loopback only, whatever HTTP_PROXY says
			DialContext:         (&net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
			MaxIdleConns:        256,
			MaxIdleConnsPerHost: 256,
			IdleConnTimeout:     90 * time.Second,
		},
		ErrorLog: log.New(stderr, "proxy: ", 0),
	}
	// Full duplex: by default Go's HTTP/1 server closes a request body once
	// the handler has written (here: flushed) the response. The proxy's
	// transport, which reads once past the Content-Length of the body it
	// forwards, then fails that read, takes the upstream request for a
	// failed one and closes the connection under a stream that is still
	// arriving ("use of closed network connection", the client sees a
	// truncated stream) — about one stream in a few hundred on loopback.
	// The gateway does not meet this because it reads the body whole
	// before it calls upstream.
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_ = http.NewResponseController(w).EnableFullDuplex()
		rp.ServeHTTP(w, r)
	})
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	fmt.Fprintf(stdout, "tollgate-bench proxy serving on http://%s -> %s\n", ln.Addr(), up)
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return fmt.Errorf("proxy: %w", err)
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil && !errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("proxy: shutdown: %w", err)
	}
	return nil
}
