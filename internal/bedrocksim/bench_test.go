package bedrocksim_test

import (
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/tollgate-gw/tollgate/internal/bedrocksim"
)

// BenchmarkStream measures the simulator's own cost per streamed answer,
// so that gateway benchmarks can subtract it.
func BenchmarkStream(b *testing.B) {
	srv := httptest.NewServer(bedrocksim.New(bedrocksim.Options{AllowUnsigned: true, MaxRecorded: 16}))
	defer srv.Close()
	body := userBody("[[sim:text " + string(bytes.Repeat([]byte("word "), 200)) + "]]")
	url := srv.URL + "/model/" + sonnet + "/invoke-with-response-stream"
	for b.Loop() {
		resp, err := srv.Client().Post(url, "application/json", bytes.NewReader(body))
		if err != nil {
			b.Fatal(err)
		}
		if _, err := io.Copy(io.Discard, resp.Body); err != nil || resp.StatusCode != http.StatusOK {
			b.Fatal(resp.StatusCode, err)
		}
		resp.Body.Close()
	}
}
