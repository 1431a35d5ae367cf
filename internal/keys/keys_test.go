package keys

import (
	"context"
	"encoding/hex"
	"errors"
	"net/http"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"
)

func TestCache(t *testing.T) {
	now := time.Date(2026, 11, 29, 12, 0, 0, 0, time.UTC)
	c := NewCache(NewStatic([]StaticKey{{Name: "ops", Secret: "static-secret"}}), func() time.Time { return now })
	c.Replace([]Entry{
		{ID: "key_1", Alias: "alice-laptop", Hash: HashSecret("tg-alice"), UserID: "usr_1", Models: []string{"claude-sonnet-4-5"}},
		{ID: "key_2", Alias: "old", Hash: HashSecret("tg-old"), Expires: now.Add(-time.Second)},
		{ID: "key_3", Alias: "off", Hash: HashSecret("tg-off"), Disabled: true},
	})
	tests := []struct {
		secret  string
		wantKey string
		wantErr error
	}{
		{"tg-alice", "alice-laptop", nil},
		{"static-secret", "ops", nil},
		{"tg-old", "", ErrExpiredKey},
		{"tg-off", "", ErrDisabledKey},
		{"tg-unknown", "", ErrInvalidKey},
		{"", "", ErrMissingKey},
	}
	for _, tt := range tests {
		p, err := c.Authenticate(context.Background(), tt.secret)
		if !errors.Is(err, tt.wantErr) || p.KeyName != tt.wantKey {
			t.Errorf("Authenticate(%q) = %q, %v; want %q, %v", tt.secret, p.KeyName, err, tt.wantKey, tt.wantErr)
		}
	}
	p, _ := c.Authenticate(context.Background(), "tg-alice")
	if p.KeyID != "key_1" || p.UserID != "usr_1" || len(p.Models) != 1 {
		t.Errorf("principal = %+v", p)
	}
}

func TestOpenUntilKeysExist(t *testing.T) {
	c := NewCache(NewStatic(nil), nil)
	if _, err := c.Authenticate(context.Background(), "anything"); err != nil {
		t.Fatalf("open gateway refused a key: %v", err)
	}
	c.Replace([]Entry{{ID: "key_1", Alias: "a", Hash: HashSecret("tg-a")}})
	if _, err := c.Authenticate(context.Background(), "anything"); !errors.Is(err, ErrInvalidKey) {
		t.Fatalf("after virtual keys exist, unknown key = %v, want ErrInvalidKey", err)
	}
}

// TestOpenModeConfirms: with no keys, the cache asks its confirm function
// before admitting anyone, and uses whatever that loaded; with keys, it
// never asks.
func TestOpenModeConfirms(t *testing.T) {
	storeKeys := []Entry{{ID: "key_1", Alias: "bob-laptop", Hash: HashSecret("tg-bob"), UserID: "usr_bob"}}
	tests := []struct {
		name     string
		inStore  []Entry // what confirm finds (and loads); nil: no keys
		fail     error   // confirm's error
		secret   string
		wantKey  string
		wantErr  error
		wantCall int
	}{
		{"store empty: open", nil, nil, "anything", "anonymous", nil, 1},
		{"store empty, no key: open", nil, nil, "", "anonymous", nil, 1},
		{"key created elsewhere: served as itself", storeKeys, nil, "tg-bob", "bob-laptop", nil, 1},
		{"key created elsewhere: unknown key refused", storeKeys, nil, "anything", "", ErrInvalidKey, 1},
		{"key created elsewhere: missing key refused", storeKeys, nil, "", "", ErrMissingKey, 1},
		{"store unreachable: refused", nil, errors.New("connection refused"), "anything", "", ErrUnconfirmed, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := NewCache(NewStatic(nil), nil)
			calls := 0
			c.ConfirmOpenWith(func(context.Context) error {
				calls++
				if tt.fail != nil {
					return tt.fail
				}
				if tt.inStore != nil {
					c.Replace(tt.inStore)
				}
				return nil
			})
			p, err := c.Authenticate(context.Background(), tt.secret)
			if !errors.Is(err, tt.wantErr) || p.KeyName != tt.wantKey {
				t.Errorf("Authenticate(%q) = %q, %v; want %q, %v", tt.secret, p.KeyName, err, tt.wantKey, tt.wantErr)
			}
			if calls != tt.wantCall {
				t.Errorf("confirm ran %d times, want %d", calls, tt.wantCall)
			}
			// Once keys are loaded, the hot path never asks again.
			if tt.inStore != nil {
				_, _ = c.Authenticate(context.Background(), "tg-bob")
				_, _ = c.Authenticate(context.Background(), "other")
				if calls != tt.wantCall {
					t.Errorf("with keys loaded, confirm ran again (%d calls)", calls)
				}
			}
		})
	}
}

// TestOpenModeConfirmSingleFlight: concurrent requests share confirmations,
// but never one that started before they arrived (it may have read the
// store before the first key was committed).
func TestOpenModeConfirmSingleFlight(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c := NewCache(NewStatic(nil), nil)
		release := make(chan struct{})
		var calls atomic.Int32
		c.ConfirmOpenWith(func(context.Context) error {
			n := calls.Add(1)
			<-release
			if n == 2 {
				// The key was committed while the first query ran.
				c.Replace([]Entry{{ID: "key_1", Alias: "bob-laptop", Hash: HashSecret("tg-bob")}})
			}
			return nil
		})
		type result struct {
			key string
			err error
		}
		auth := func(secret string, out chan<- result) {
			p, err := c.Authenticate(context.Background(), secret)
			out <- result{p.KeyName, err}
		}
		early := make(chan result, 1)
		go auth("anything", early)
		synctest.Wait() // its confirmation is running
		late := make(chan result, 10)
		for range 10 {
			go auth("tg-bob", late)
		}
		synctest.Wait()
		if n := calls.Load(); n != 1 {
			t.Fatalf("%d confirmations running, want 1", n)
		}
		release <- struct{}{} // first confirmation: the store was still empty
		if r := <-early; r.err != nil || r.key != "anonymous" {
			t.Errorf("early request = %q, %v; want anonymous", r.key, r.err)
		}
		synctest.Wait()
		select {
		case r := <-late:
			t.Fatalf("a late request got the first confirmation's answer: %+v", r)
		default:
		}
		release <- struct{}{} // second confirmation, shared by the ten late requests
		for range 10 {
			if r := <-late; r.err != nil || r.key != "bob-laptop" {
				t.Errorf("late request = %q, %v; want bob-laptop", r.key, r.err)
			}
		}
		if n := calls.Load(); n != 2 {
			t.Errorf("%d confirmations for 11 requests, want 2", n)
		}
	})
}

// TestRefuseOpen: a cache told to refuse open mode answers ErrNoKeys while
// no key exists, still asks the store first, and serves keys once they
// exist.
func TestRefuseOpen(t *testing.T) {
	ctx := context.Background()
	c := NewCache(NewStatic(nil), nil)
	c.RefuseOpen()
	asked := 0
	c.ConfirmOpenWith(func(context.Context) error { asked++; return nil })
	if c.OpenNow() {
		t.Errorf("OpenNow() = true for a cache that refuses open mode")
	}
	for _, secret := range []string{"", "anything"} {
		if _, err := c.Authenticate(ctx, secret); !errors.Is(err, ErrNoKeys) {
			t.Errorf("Authenticate(%q) = %v, want ErrNoKeys", secret, err)
		}
	}
	if asked != 2 {
		t.Errorf("confirmations = %d, want 2 (the store is asked before refusing)", asked)
	}
	c.Replace([]Entry{{ID: "key_1", Alias: "a", Hash: HashSecret("tg-a")}})
	if p, err := c.Authenticate(ctx, "tg-a"); err != nil || p.KeyName != "a" {
		t.Errorf("Authenticate(tg-a) = %+v, %v; want key a", p, err)
	}
	if _, err := c.Authenticate(ctx, "anything"); !errors.Is(err, ErrInvalidKey) {
		t.Errorf("unknown key with keys present = %v, want ErrInvalidKey", err)
	}
	if open := NewCache(NewStatic(nil), nil); !open.OpenNow() {
		t.Errorf("OpenNow() = false for an empty cache that allows open mode")
	}
}

func TestFromHeader(t *testing.T) {
	tests := []struct {
		name    string
		headers map[string]string
		want    string
		wantErr error
	}{
		{"none", nil, "", nil},
		{"x-api-key", map[string]string{"x-api-key": "tg-a"}, "tg-a", nil},
		{"bearer", map[string]string{"Authorization": "Bearer tg-b"}, "tg-b", nil},
		{"bearer any case, spaces", map[string]string{"Authorization": "bearer  tg-b "}, "tg-b", nil},
		{"x-api-key wins", map[string]string{"x-api-key": "tg-a", "Authorization": "Bearer tg-b"}, "tg-a", nil},
		{"basic ignored", map[string]string{"Authorization": "Basic Zm9vOmJhcg=="}, "", nil},
		{"sigv4", map[string]string{"Authorization": "AWS4-HMAC-SHA256 Credential=AKIA/…"}, "", ErrSigV4},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := http.Header{}
			for k, v := range tc.headers {
				h.Set(k, v)
			}
			got, err := FromHeader(h)
			if got != tc.want || !errors.Is(err, tc.wantErr) {
				t.Errorf("FromHeader(%v) = %q, %v, want %q, %v", tc.headers, got, err, tc.want, tc.wantErr)
			}
		})
	}
}

// TestCachePreviousSecret: after a rotation with an overlap, both secrets
// authenticate as the same key until the overlap ends; then the old one is
// refused. An old secret never shadows a current one.
func TestCachePreviousSecret(t *testing.T) {
	now := time.Date(2026, 11, 29, 12, 0, 0, 0, time.UTC)
	c := NewCache(NewStatic(nil), func() time.Time { return now })
	c.Replace([]Entry{
		{ID: "key_1", Alias: "ci", Hash: HashSecret("tg-new"), Previous: &Previous{Hash: HashSecret("tg-old"), Until: now.Add(time.Hour)}},
		{ID: "key_2", Alias: "bot", Hash: HashSecret("tg-bot"), Expires: now.Add(time.Minute),
			Previous: &Previous{Hash: HashSecret("tg-bot-old"), Until: now.Add(time.Hour)}},
		{ID: "key_3", Alias: "other", Hash: HashSecret("tg-x"), Previous: &Previous{Hash: HashSecret("tg-new"), Until: now.Add(time.Hour)}},
	})
	if c.Len() != 3 {
		t.Errorf("Len = %d, want 3 keys (previous secrets are not keys)", c.Len())
	}
	for _, tt := range []struct {
		at      time.Duration
		secret  string
		wantKey string
		wantErr error
	}{
		{0, "tg-new", "ci", nil},
		{0, "tg-old", "ci", nil},
		{59 * time.Minute, "tg-old", "ci", nil},
		{time.Hour, "tg-old", "", ErrExpiredKey},
		{time.Hour, "tg-new", "ci", nil},
		{2 * time.Minute, "tg-bot-old", "", ErrExpiredKey}, // the key's own expiry comes first
	} {
		now = time.Date(2026, 11, 29, 12, 0, 0, 0, time.UTC).Add(tt.at)
		p, err := c.Authenticate(context.Background(), tt.secret)
		if !errors.Is(err, tt.wantErr) || p.KeyName != tt.wantKey {
			t.Errorf("at +%s Authenticate(%q) = %q, %v; want %q, %v", tt.at, tt.secret, p.KeyName, err, tt.wantKey, tt.wantErr)
		}
	}
	if PreviousFrom("", time.Now()) != nil || PreviousFrom("zz", time.Now()) != nil || PreviousFrom(hexOf("tg-a"), time.Time{}) != nil {
		t.Error("PreviousFrom without a hash or an expiry is not nil")
	}
}

func hexOf(secret string) string {
	h := HashSecret(secret)
	return hex.EncodeToString(h[:])
}
