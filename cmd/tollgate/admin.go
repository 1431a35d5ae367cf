package main

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/tollgate-gw/tollgate/internal/adminclient"
)

// defaultGatewayURL is where the admin commands look for the gateway when
// neither --url nor TOLLGATE_URL says otherwise: the address `tollgate serve`
// listens on without a config file.
const defaultGatewayURL = "http://127.0.0.1:4000"

// client resolves the flags and the environment into an admin API client.
func (f *adminFlags) client() (*adminclient.Client, error) {
	base := f.url
	if base == "" {
		base = os.Getenv("TOLLGATE_URL")
	}
	if base == "" {
		base = defaultGatewayURL
	}
	u, err := url.Parse(base)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("gateway URL %q is not an http:// or https:// URL; set TOLLGATE_URL or --url, e.g. %s", base, defaultGatewayURL)
	}
	key := f.key
	if key == "" {
		key = os.Getenv("TOLLGATE_ADMIN_KEY")
	}
	if key == "" {
		return nil, errors.New("TOLLGATE_ADMIN_KEY is not set: export the admin key (the gateway prints one at its first start, or takes yours from TOLLGATE_ADMIN_KEY), or pass --admin-key")
	}
	return adminclient.New(strings.TrimRight(u.String(), "/"), key, &http.Client{Timeout: 60 * time.Second}, "tollgate-cli/"+build.Version), nil
}

// firstLine returns the first non-empty line of s, cut to max runes.
func firstLine(s string, max int) string {
	for line := range strings.Lines(s) {
		line = strings.TrimSpace(line)
		if line == "" {
			continue
		}
		if r := []rune(line); len(r) > max {
			return string(r[:max]) + "…"
		}
		return line
	}
	return ""
}
