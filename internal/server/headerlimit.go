package server

import (
	"net/http"

	"github.com/tollgate-gw/tollgate/internal/apierror"
)

// maxHeaderBytesInFormat is the largest header block the gateway serves.
// Requests above it and up to maxHeaderBytes, where net/http stops reading
// them, are answered by the gateway itself: a 431 in the door's format, with
// a request id and origin client, which a client can report and an operator
// can find in the log. Only header blocks over maxHeaderBytes still get
// net/http's plain-text 431, which no hook can replace. Claude Code sends a
// few KB of headers; 64 KiB leaves room for long custom-header and beta lists.
const maxHeaderBytesInFormat = 64 << 10

// limitHeaders answers a request whose header block exceeds
// maxHeaderBytesInFormat with a 431 in its door's format, before the access
// rules and anything else: no work is done for it. The body is not read.
func (s *Server) limitHeaders(next http.Handler) http.Handler {
	tooLarge := func(w http.ResponseWriter, r *http.Request, x *exchange) error {
		return apierror.Client(http.StatusRequestHeaderFieldsTooLarge, apierror.TypeInvalidRequest,
			"request headers are %d bytes, over the gateway's limit of %d bytes", headerBytes(r), maxHeaderBytesInFormat).NoRetry()
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if headerBytes(r) <= maxHeaderBytesInFormat {
			next.ServeHTTP(w, r)
			return
		}
		w.Header().Set("Connection", "close") // the body stays unread
		s.handle(s.doorOf(r), tooLarge).ServeHTTP(w, r)
	})
}

// headerBytes is the size of r's request line and header block as sent,
// counted the way net/http counts it against MaxHeaderBytes (names, values
// and separators), near enough to compare with a limit.
func headerBytes(r *http.Request) int {
	n := len(r.Method) + len(r.RequestURI) + len(r.Proto) + 4 + len("Host: ") + len(r.Host) + 2
	for k, vs := range r.Header {
		for _, v := range vs {
			n += len(k) + 2 + len(v) + 2
		}
	}
	return n
}
