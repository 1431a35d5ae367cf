// Command tollgate-dev-idp runs a real OpenID Connect provider on loopback
// for trying sign-in locally and for scripted and browser tests: discovery,
// authorization code with PKCE, refresh tokens, JWKS, signed ID tokens with
// email, name and groups, one client, and users given on the command line
// or added and removed while it runs:
//
//	tollgate-dev-idp -listen 127.0.0.1:5556 -redirect-uri http://127.0.0.1:4000/signin/callback \
//	    -user ann:pw:ann@example.com:eng,gw-admins
//	curl -d username=bob -d password=pw -d email=bob@example.com -d groups=sales http://127.0.0.1:5556/admin/users
//	curl -X DELETE http://127.0.0.1:5556/admin/users/bob
//
// It is a test tool: plain-text passwords, in-memory state, plain HTTP. It
// refuses to listen on anything but a loopback address.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/tollgate-gw/tollgate/internal/devidp"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "tollgate-dev-idp:", err)
		os.Exit(1)
	}
}

type list []string

func (l *list) String() string     { return strings.Join(*l, ",") }
func (l *list) Set(v string) error { *l = append(*l, v); return nil }

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("tollgate-dev-idp", flag.ContinueOnError)
	fs.SetOutput(stderr)
	listen := fs.String("listen", "127.0.0.1:5556", "loopback host:port to serve on (port 0: any free port)")
	clientID := fs.String("client-id", "tollgate", "the client id of the one relying party")
	secret := fs.String("client-secret", "tollgate-dev-secret", "its client secret")
	var redirects, users list
	fs.Var(&redirects, "redirect-uri", "an allowed redirect URI (repeatable); default http://127.0.0.1:4000/signin/callback")
	fs.Var(&users, "user", "a user as username:password:email:group1,group2 (repeatable)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if len(redirects) == 0 {
		redirects = list{"http://127.0.0.1:4000/signin/callback"}
	}
	host, _, err := net.SplitHostPort(*listen)
	if ip := net.ParseIP(host); err != nil || ip == nil || !ip.IsLoopback() {
		return fmt.Errorf("-listen %q: must be a loopback address such as 127.0.0.1:5556", *listen)
	}
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		return err
	}
	issuer := "http://" + ln.Addr().String()
	p, err := devidp.New(devidp.Options{Issuer: issuer, Client: devidp.Client{ID: *clientID, Secret: *secret, RedirectURIs: redirects}})
	if err != nil {
		ln.Close()
		return err
	}
	for _, u := range users {
		parts := strings.SplitN(u, ":", 4)
		if len(parts) < 2 || parts[0] == "" {
			ln.Close()
			return fmt.Errorf("-user %q: want username:password[:email[:groups]]", u)
		}
		usr := devidp.User{Username: parts[0], Password: parts[1], Name: parts[0]}
		if len(parts) > 2 {
			usr.Email = parts[2]
		}
		if len(parts) > 3 && parts[3] != "" {
			usr.Groups = strings.Split(parts[3], ",")
		}
		p.AddUser(usr)
	}
	fmt.Fprintf(stdout, "issuer %s\n", issuer)
	srv := &http.Server{Handler: p, ReadHeaderTimeout: 10 * time.Second}
	go func() {
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		srv.Shutdown(sctx)
	}()
	if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}
