package authz_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/tollgate-gw/tollgate/internal/authz"
)

// cheap keeps the tests fast; the parameters travel in the hash.
var cheap = authz.Argon2idParams{MemoryKiB: 64, Time: 1, Threads: 1}

func TestPasswordRoundTrip(t *testing.T) {
	h := authz.HashPassword("correct horse", cheap)
	if !strings.HasPrefix(h, "$argon2id$v=19$m=64,t=1,p=1$") {
		t.Errorf("HashPassword = %q, want an argon2id PHC string with its parameters", h)
	}
	if h2 := authz.HashPassword("correct horse", cheap); h2 == h {
		t.Error("two hashes of one password are equal: the salt is not random")
	}
	for _, tc := range []struct {
		pw   string
		want bool
	}{{"correct horse", true}, {"correct horse ", false}, {"", false}, {"Correct horse", false}} {
		if ok, err := authz.CheckPassword(h, tc.pw); ok != tc.want || err != nil {
			t.Errorf("CheckPassword(%q) = %v, %v; want %v", tc.pw, ok, err, tc.want)
		}
	}
	def := authz.HashPassword("x", authz.DefaultArgon2id)
	if !strings.HasPrefix(def, "$argon2id$v=19$m=19456,t=2,p=1$") {
		t.Errorf("default parameters: %q", def)
	}
}

func TestParsePHCRefuses(t *testing.T) {
	good := authz.HashPassword("pw", cheap)
	parts := strings.Split(good, "$")
	for name, in := range map[string]string{
		"empty":          "",
		"bcrypt":         "$2a$10$abcdefghijklmnopqrstuu",
		"argon2i":        strings.Replace(good, "argon2id", "argon2i", 1),
		"old version":    strings.Replace(good, "v=19", "v=16", 1),
		"huge memory":    strings.Replace(good, "m=64", "m=4294967295", 1),
		"too many t":     strings.Replace(good, "t=1", "t=1000", 1),
		"missing p":      strings.Replace(good, ",p=1", "", 1),
		"repeated m":     strings.Replace(good, "t=1", "m=64", 1),
		"bad salt":       "$" + strings.Join(append(parts[1:4:4], "!!!", parts[5]), "$"),
		"short hash":     "$" + strings.Join(append(parts[1:5:5], "AAAA"), "$"),
		"trailing field": good + "$x",
	} {
		if _, _, _, err := authz.ParsePHC(in); !errors.Is(err, authz.ErrBadHash) {
			t.Errorf("ParsePHC(%s: %q) err = %v, want ErrBadHash", name, in, err)
		}
		if ok, err := authz.CheckPassword(in, "pw"); ok || err == nil {
			t.Errorf("CheckPassword(%s) = %v, %v; want false and an error", name, ok, err)
		}
	}
}

func FuzzParsePHC(f *testing.F) {
	f.Add(authz.HashPassword("pw", cheap))
	f.Add("$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHRzYWx0$aGFzaGhhc2hoYXNoaGFzaA")
	f.Add("$argon2id$v=19$m=8,t=1,p=255$AAAAAAAAAAA$AAAAAAAAAAAAAAAAAAAAAA")
	f.Fuzz(func(t *testing.T, s string) {
		p, salt, sum, err := authz.ParsePHC(s)
		if err != nil {
			return
		}
		if p.MemoryKiB > 1<<20 || p.Time > 20 || p.Threads == 0 || len(salt) < 8 || len(sum) < 16 {
			t.Errorf("ParsePHC(%q) accepted out-of-range %+v salt %d hash %d", s, p, len(salt), len(sum))
		}
	})
}
