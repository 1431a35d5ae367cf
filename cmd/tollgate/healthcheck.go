package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/tollgate-gw/tollgate/internal/adminclient"
)

// defaultHealthURL is what the compose file's health check asks: inside the
// container the gateway listens on port 4000 of every interface.
const defaultHealthURL = "http://127.0.0.1:4000/readyz"

// runHealthcheck GETs a health URL and succeeds on a 2xx answer. It exists
// because the container image is distroless — no shell, curl or wget — so a
// Docker or Kubernetes health check can only run the binary itself.
func newHealthcheckCmd() *cobra.Command {
	var (
		target  string
		timeout time.Duration
	)
	cmd := &cobra.Command{
		Use:   "healthcheck [--url URL] [--timeout 5s]",
		Short: "GET a health URL and exit 0 on a 2xx answer (for containers)",
		Long: `GET a health URL and succeed on a 2xx answer. The container image is
distroless (no shell, curl or wget), so a Docker or Kubernetes health check
runs the binary itself.`,
		Example: `  tollgate healthcheck
  tollgate healthcheck --url http://127.0.0.1:4000/healthz --timeout 2s`,
		Args: noArgs,
	}
	cmd.Flags().StringVar(&target, "url", defaultHealthURL, "URL to GET; /readyz also checks that usage can be persisted (written or spilled), /healthz only that the process serves")
	cmd.Flags().DurationVar(&timeout, "timeout", 5*time.Second, "how long to wait for the answer")
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		return healthcheck(cmd.Context(), target, timeout, cmd.OutOrStdout())
	}
	return cmd
}

// healthcheck GETs target and succeeds on a 2xx answer.
func healthcheck(ctx context.Context, target string, timeout time.Duration, stdout io.Writer) error {
	u, err := url.Parse(target)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("healthcheck: --url %q is not an http:// or https:// URL", target)
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return fmt.Errorf("healthcheck: %w", err)
	}
	req.Header.Set("User-Agent", "tollgate-healthcheck/"+build.Version)
	// No proxy: the check is about this host's gateway, whatever
	// HTTP_PROXY the container inherited.
	hc := &http.Client{Transport: &http.Transport{Proxy: nil, TLSHandshakeTimeout: timeout}}
	start := time.Now()
	resp, err := hc.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return fmt.Errorf("healthcheck: GET %s: no answer within %s", u.Redacted(), timeout)
		}
		return fmt.Errorf("healthcheck: GET %s: %s", u.Redacted(), netReason(err))
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("healthcheck: GET %s answered HTTP %d: %s", u.Redacted(), resp.StatusCode, adminclient.ErrorFrom(resp, raw).Message)
	}
	fmt.Fprintf(stdout, "ok: GET %s answered %d in %s\n", u.Redacted(), resp.StatusCode, time.Since(start).Round(time.Millisecond))
	return nil
}

// netReason says in plain words why a request got no HTTP answer.
func netReason(err error) string {
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	var dnsErr *net.DNSError
	var certErr *tls.CertificateVerificationError
	var hostErr x509.HostnameError
	var authErr x509.UnknownAuthorityError
	var recErr tls.RecordHeaderError
	var netErr net.Error
	switch {
	case errors.As(err, &dnsErr):
		if dnsErr.IsNotFound {
			return fmt.Sprintf("the host name %q does not resolve (DNS: no such host)", dnsErr.Name)
		}
		return fmt.Sprintf("the host name %q could not be resolved (DNS: %s)", dnsErr.Name, dnsErr.Err)
	case errors.Is(err, syscall.ECONNREFUSED):
		return "connection refused: nothing listens on that address and port"
	case errors.As(err, &hostErr):
		return "TLS: the server's certificate is not valid for this host name (" + hostErr.Error() + ")"
	case errors.As(err, &authErr), errors.As(err, &certErr):
		return "TLS: the server's certificate is not trusted by this machine (" + err.Error() + ")"
	case errors.As(err, &recErr):
		return "TLS: the server does not speak TLS on this port (try http:// instead of https://)"
	case errors.Is(err, syscall.ECONNRESET), errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return "the connection was closed without an answer (" + err.Error() + ")"
	case errors.As(err, &netErr) && netErr.Timeout():
		return "no answer in time: the host is down, or a firewall or security group drops the packets"
	}
	return err.Error()
}
