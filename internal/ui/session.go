package ui

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/tollgate-gw/tollgate/internal/admin"
	"github.com/tollgate-gw/tollgate/internal/authz"
	"github.com/tollgate-gw/tollgate/internal/store"
)

// Cookie names. Over TLS the session cookie carries the __Host- prefix, so
// that the browser only accepts it Secure, for this host and path /: no
// sibling subdomain can plant or overwrite it.
const (
	cookieSecure = "__Host-tollgate_session"
	cookiePlain  = "tollgate_session"
	cookieLang   = "tollgate_lang"
)

// principalRefresher reads a session's principal as it is now
// (*admin.API.CurrentPrincipal); Options.Accounts may implement it.
type principalRefresher interface {
	CurrentPrincipal(ctx context.Context, p authz.Principal) (authz.Principal, error)
}

// session is a signed-in browser.
type session struct {
	idHash    string
	Principal authz.Principal
	CSRF      string
}

// Can reports whether the principal's role may change resource (a name of
// authz.Resource), so pages hide the forms it could not submit. It is
// cosmetic: the admin API checks the same rule on every call.
func (s *session) Can(resource string) bool {
	return s != nil && s.Principal.Role.Can(authz.Write(authz.Resource(resource)))
}

// CanRead reports whether the principal's role may read resource, for the
// navigation.
func (s *session) CanRead(resource string) bool {
	return s != nil && s.Principal.Role.Can(authz.Read(authz.Resource(resource)))
}

// secureRequest reports whether the browser reached the gateway over
// HTTPS: directly, or through a TLS-terminating proxy that says so. A
// forged X-Forwarded-Proto only makes the cookie Secure, which a plain
// HTTP browser then does not send back: it cannot weaken anything.
func secureRequest(r *http.Request) bool {
	return r.TLS != nil || strings.EqualFold(r.Header.Get("X-Forwarded-Proto"), "https")
}

// loopbackHost reports whether the browser addressed the gateway on
// loopback, where plain HTTP cannot be observed by anyone else.
func loopbackHost(r *http.Request) bool {
	host := r.Host
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(strings.Trim(host, "[]"))
	return ip != nil && ip.IsLoopback()
}

func cookieName(r *http.Request) string {
	if secureRequest(r) {
		return cookieSecure
	}
	return cookiePlain
}

func hashID(v string) string {
	h := sha256.Sum256([]byte(v))
	return hex.EncodeToString(h[:])
}

func randomToken() string {
	var b [32]byte
	rand.Read(b[:])
	return base64.RawURLEncoding.EncodeToString(b[:])
}

var errNoSession = errors.New("ui: not signed in")

// session returns the request's live session.
func (c *Console) session(r *http.Request) (*session, error) {
	ck, err := r.Cookie(cookieName(r))
	if err != nil || ck.Value == "" || len(ck.Value) > 100 {
		return nil, errNoSession
	}
	id := hashID(ck.Value)
	cs, err := c.opts.Store.ConsoleSession(r.Context(), id)
	if errors.Is(err, store.ErrNotFound) {
		return nil, errNoSession
	}
	if err != nil {
		return nil, err
	}
	now := c.opts.Now()
	if !now.Before(cs.ExpiresAt) || !now.Before(cs.LastSeen.Add(c.opts.IdleTimeout)) {
		_ = c.opts.Store.DeleteConsoleSession(r.Context(), id)
		return nil, errNoSession
	}
	var p authz.Principal
	if err := json.Unmarshal([]byte(cs.Principal), &p); err != nil || !p.Role.Valid() {
		return nil, errNoSession
	}
	// An account's role, teams and standing are read afresh on every
	// request: a demotion, a disable or a delete applies to sessions
	// already open, not at their next sign-in.
	if ref, ok := c.opts.Accounts.(principalRefresher); ok {
		cur, err := ref.CurrentPrincipal(r.Context(), p)
		if errors.Is(err, admin.ErrPrincipalGone) {
			_ = c.opts.Store.DeleteConsoleSession(r.Context(), id)
			return nil, errNoSession
		}
		if err != nil {
			return nil, err
		}
		p = cur
	}
	// Record use at most once a minute: a page's fragment polls should not
	// turn every read into a database write.
	if now.Sub(cs.LastSeen) > time.Minute {
		if err := c.opts.Store.TouchConsoleSession(r.Context(), id, now); err != nil {
			c.log.Warn("console: recording session use failed", "err", err)
		}
	}
	p.Via = authz.ViaConsole
	p.RemoteAddr = c.clientIP(r)
	return &session{idHash: id, Principal: p, CSRF: cs.CSRFToken}, nil
}

func (c *Console) clientIP(r *http.Request) string {
	if c.opts.ClientIP != nil {
		if ip := c.opts.ClientIP(r); ip.IsValid() {
			return ip.String()
		}
	}
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// checkCSRF compares the form's token with the session's in constant time.
func (s *session) checkCSRF(r *http.Request) error {
	got := r.PostFormValue("csrf")
	if got == "" || subtle.ConstantTimeCompare([]byte(got), []byte(s.CSRF)) != 1 {
		return &pageError{Status: http.StatusForbidden, Msg: "err.csrf"}
	}
	return nil
}

// checkOrigin refuses a POST another site made the browser send: by the
// Fetch Metadata header where the browser sends it, and by Origin, which
// must name this host.
func checkOrigin(r *http.Request) error {
	if site := r.Header.Get("Sec-Fetch-Site"); site != "" && site != "same-origin" {
		return &pageError{Status: http.StatusForbidden, Msg: "err.origin"}
	}
	if o := r.Header.Get("Origin"); o != "" {
		u, err := url.Parse(o)
		if err != nil || u.Host != r.Host {
			return &pageError{Status: http.StatusForbidden, Msg: "err.origin"}
		}
	}
	return nil
}

type signinData struct {
	Next     string
	Accounts bool
	Name     string
}

func safeNext(next string) string {
	if !strings.HasPrefix(next, "/ui/") || strings.HasPrefix(next, "//") || strings.ContainsAny(next, "\\\r\n") {
		return "/ui/"
	}
	return next
}

func (c *Console) signinPage(w http.ResponseWriter, r *http.Request) {
	c.writeSignin(w, r, http.StatusOK, "")
}

func (c *Console) writeSignin(w http.ResponseWriter, r *http.Request, status int, msg string) {
	d := signinData{Next: safeNext(r.FormValue("next")), Accounts: c.opts.Accounts != nil, Name: r.PostFormValue("name")}
	if err := c.render(w, r, nil, status, "signin", "", d, msg); err != nil {
		c.log.Error("console: render sign-in", "err", err)
	}
}

// signin checks the admin key or a name and password, then starts a
// session.
func (c *Console) signin(w http.ResponseWriter, r *http.Request) {
	l := langFor(r)
	r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
	if err := checkOrigin(r); err != nil {
		c.renderError(w, r, nil, err)
		return
	}
	if !secureRequest(r) && !loopbackHost(r) {
		c.writeSignin(w, r, http.StatusForbidden, l.T("err.plainhttp"))
		return
	}
	var p authz.Principal
	var err error
	switch {
	case r.PostFormValue("admin_key") != "":
		p, err = c.opts.Admin.CheckAdminKey(r.Context(), r.PostFormValue("admin_key"))
	case r.PostFormValue("name") != "" && c.opts.Accounts != nil:
		p, err = c.opts.Accounts.Authenticate(r.Context(), r.PostFormValue("name"), r.PostFormValue("password"))
	default:
		c.writeSignin(w, r, http.StatusBadRequest, l.T("err.credentials"))
		return
	}
	if err != nil {
		c.log.Info("console: sign-in refused", "remote", c.clientIP(r), "err", err)
		c.writeSignin(w, r, http.StatusUnauthorized, l.T("err.credentials"))
		return
	}
	b, err := json.Marshal(p)
	if err != nil {
		c.renderError(w, r, nil, err)
		return
	}
	value := randomToken()
	now := c.opts.Now()
	cs := store.ConsoleSession{IDHash: hashID(value), Principal: string(b), CSRFToken: randomToken(),
		CreatedAt: now, LastSeen: now, ExpiresAt: now.Add(c.opts.MaxAge)}
	if err := c.opts.Store.CreateConsoleSession(r.Context(), cs, now); err != nil {
		c.renderError(w, r, nil, err)
		return
	}
	http.SetCookie(w, &http.Cookie{Name: cookieName(r), Value: value, Path: "/", HttpOnly: true,
		Secure: secureRequest(r), SameSite: http.SameSiteLaxMode, MaxAge: int(c.opts.MaxAge / time.Second)})
	http.Redirect(w, r, safeNext(r.PostFormValue("next")), http.StatusSeeOther)
}

func (c *Console) signout(w http.ResponseWriter, r *http.Request, s *session) error {
	if err := c.opts.Store.DeleteConsoleSession(r.Context(), s.idHash); err != nil {
		return err
	}
	http.SetCookie(w, &http.Cookie{Name: cookieName(r), Value: "", Path: "/", HttpOnly: true,
		Secure: secureRequest(r), SameSite: http.SameSiteLaxMode, MaxAge: -1})
	http.Redirect(w, r, "/ui/signin", http.StatusSeeOther)
	return nil
}

// setLang stores the chosen language in a cookie and goes back.
func (c *Console) setLang(w http.ResponseWriter, r *http.Request) {
	code := r.PathValue("lang")
	if _, ok := catalogs[code]; !ok {
		c.renderError(w, r, nil, &pageError{Status: http.StatusNotFound, Msg: "err.notfound"})
		return
	}
	http.SetCookie(w, &http.Cookie{Name: cookieLang, Value: code, Path: "/ui/", Secure: secureRequest(r),
		SameSite: http.SameSiteLaxMode, MaxAge: 365 * 24 * 3600})
	http.Redirect(w, r, safeNext(r.URL.Query().Get("next")), http.StatusSeeOther)
}

func urlQueryEscape(s string) string { return url.QueryEscape(s) }
