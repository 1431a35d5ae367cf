package keys

import (
	"context"
	"errors"
	"testing"
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
