package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
)

func TestRunRefusesNonLoopback(t *testing.T) {
	for _, addr := range []string{"0.0.0.0:0", ":0", "example.com:80"} {
		var out, errb bytes.Buffer
		err := run(context.Background(), []string{"-listen", addr}, &out, &errb)
		if err == nil || !strings.Contains(err.Error(), "loopback") {
			t.Errorf("run(-listen %s) = %v, want a loopback error", addr, err)
		}
	}
	var out, errb bytes.Buffer
	if err := run(context.Background(), []string{"-listen", "127.0.0.1:0", "-user", "nopassword"}, &out, &errb); err == nil {
		t.Error("run(-user nopassword) = nil, want an error")
	}
}
