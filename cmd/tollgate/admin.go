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
	base = strings.TrimRight(u.String(), "/")
	hc := &http.Client{Timeout: 60 * time.Second}
	agent := "tollgate-cli/" + build.Version
	// An admin account (TOLLGATE_ADMIN_USER and TOLLGATE_ADMIN_PASSWORD)
	// signs in with HTTP Basic; otherwise the admin key or a scoped token
	// (tgt-…) goes as a bearer credential.
	if user := cmpOr(f.user, os.Getenv("TOLLGATE_ADMIN_USER")); user != "" {
		pw := os.Getenv("TOLLGATE_ADMIN_PASSWORD")
		if pw == "" {
			return nil, fmt.Errorf("TOLLGATE_ADMIN_PASSWORD is not set: export the password of admin account %q", user)
		}
		return adminclient.New(base, "", hc, agent).WithAccount(user, pw).WithLabel("cli"), nil
	}
	key := cmpOr(f.key, os.Getenv("TOLLGATE_ADMIN_KEY"))
	if key == "" {
		return nil, errors.New("TOLLGATE_ADMIN_KEY is not set: export the admin key (the gateway prints one at its first start, or takes yours from TOLLGATE_ADMIN_KEY) or a scoped admin token (tgt-…), pass --admin-key, or sign in as an admin account with TOLLGATE_ADMIN_USER and TOLLGATE_ADMIN_PASSWORD")
	}
	return adminclient.New(base, key, hc, agent).WithLabel("cli"), nil
}

// cmpOr returns the first non-empty string.
func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
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
