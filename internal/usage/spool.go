package usage

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sync/atomic"

	"github.com/tollgate-gw/tollgate/internal/tokens"
)

// ErrSpoolFull is returned by Spool.Append when a record would take the file
// past its bound.
var ErrSpoolFull = errors.New("usage: spool file full")

// Spool is an append-only file of usage records on local disk, one JSON
// object a line, bounded in size and fsynced after every append. The writer
// keeps two: the spill file, where records go that cannot be written to the
// database (the backlog of a long outage, the queue at shutdown), replayed
// once the database answers again; and the quarantine file, where records
// the database refuses are kept for an operator instead of blocking every
// other row.
//
// A line is {"record": {...}, "error": "..."}; error is set in quarantine
// only. Texts that are not valid UTF-8 are written with U+FFFD in place of
// the bad bytes (encoding/json does so), which is what the store would do
// anyway.
//
// A Spool is used by the writer's owner goroutine only; Size may be read
// from any goroutine.
type Spool struct {
	path string
	max  int64
	size atomic.Int64
}

// spoolLine is one line of a spool file.
type spoolLine struct {
	Record Record `json:"record"`
	Error  string `json:"error,omitempty"`
}

// legacySpoolLine reads the token counts of a line written before Record
// held them as a tokens.Counts (flat InputTokens … CacheReadTokens fields),
// so that a spool left by an older gateway is not read back as zero tokens
// after an upgrade.
type legacySpoolLine struct {
	Record struct {
		InputTokens, OutputTokens, CacheWrite5mTokens, CacheWrite1hTokens, CacheReadTokens int64
	} `json:"record"`
}

// tokens returns the line's counts.
func (l legacySpoolLine) tokens() tokens.Counts {
	r := l.Record
	return tokens.Counts{Input: r.InputTokens, Output: r.OutputTokens,
		CacheWrite5m: r.CacheWrite5mTokens, CacheWrite1h: r.CacheWrite1hTokens, CacheRead: r.CacheReadTokens}
}

// OpenSpool returns the spool at path, which may not exist yet, holding at
// most maxBytes. The file, and its directory (mode 0700), are created by the
// first Append, so a gateway that never spills leaves nothing on disk.
func OpenSpool(path string, maxBytes int64) (*Spool, error) {
	if path == "" || maxBytes <= 0 {
		return nil, fmt.Errorf("usage: spool needs a path and a positive size bound")
	}
	s := &Spool{path: path, max: maxBytes}
	fi, err := os.Stat(path)
	switch {
	case err == nil:
		s.size.Store(fi.Size())
	case !errors.Is(err, fs.ErrNotExist):
		return nil, fmt.Errorf("usage: spool: %w", err)
	}
	return s, nil
}

// Path returns the spool's file path.
func (s *Spool) Path() string { return s.path }

// Size returns the file's size in bytes; 0 when it does not exist.
func (s *Spool) Size() int64 { return s.size.Load() }

// MaxBytes returns the bound on the file's size.
func (s *Spool) MaxBytes() int64 { return s.max }

// Append writes recs as lines, each with errMsg (empty for a spill), and
// fsyncs the file. It writes the longest prefix of recs that fits under the
// bound and returns how many it wrote; when some did not fit the error is
// ErrSpoolFull. A record is on disk once Append has returned it as written.
func (s *Spool) Append(recs []Record, errMsg string) (int, error) {
	if len(recs) == 0 {
		return 0, nil
	}
	var buf bytes.Buffer
	n, size := 0, s.size.Load()
	var full error
	for i := range recs {
		line, err := json.Marshal(spoolLine{Record: recs[i], Error: errMsg})
		if err != nil {
			return 0, fmt.Errorf("usage: spool: encode record: %w", err)
		}
		if size+int64(buf.Len()+len(line)+1) > s.max {
			full = ErrSpoolFull
			break
		}
		buf.Write(line)
		buf.WriteByte('\n')
		n++
	}
	if n == 0 {
		return 0, full
	}
	created := size == 0
	if created {
		if err := os.MkdirAll(filepath.Dir(s.path), 0o700); err != nil {
			return 0, fmt.Errorf("usage: spool: %w", err)
		}
	}
	f, err := os.OpenFile(s.path, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		return 0, fmt.Errorf("usage: spool: %w", err)
	}
	_, werr := f.Write(buf.Bytes())
	if werr == nil {
		werr = f.Sync()
	}
	if cerr := f.Close(); werr == nil {
		werr = cerr
	}
	if werr != nil {
		// Part of the data may be on disk; the size is re-read so the bound
		// still holds, and a torn last line is skipped by Load.
		if fi, err := os.Stat(s.path); err == nil {
			s.size.Store(fi.Size())
		}
		return 0, fmt.Errorf("usage: spool: write %s: %w", s.path, werr)
	}
	s.size.Store(size + int64(buf.Len()))
	if created {
		syncDir(filepath.Dir(s.path)) // the new file's name survives a power cut
	}
	return n, full
}

// Load reads every record in the file. Lines that cannot be decoded (a line
// torn by a crash during an append) are skipped and counted in bad. A
// missing file holds no records.
func (s *Spool) Load() (recs []Record, bad int, err error) {
	f, err := os.Open(s.path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, 0, nil
	}
	if err != nil {
		return nil, 0, fmt.Errorf("usage: spool: %w", err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 0, 64<<10), 16<<20)
	for sc.Scan() {
		var l spoolLine
		if len(bytes.TrimSpace(sc.Bytes())) == 0 {
			continue
		}
		if json.Unmarshal(sc.Bytes(), &l) != nil {
			bad++
			continue
		}
		if l.Record.Tokens == (tokens.Counts{}) {
			var old legacySpoolLine
			if json.Unmarshal(sc.Bytes(), &old) == nil {
				l.Record.Tokens = old.tokens()
			}
		}
		recs = append(recs, l.Record)
	}
	if err := sc.Err(); err != nil {
		return recs, bad, fmt.Errorf("usage: spool: read %s: %w", s.path, err)
	}
	return recs, bad, nil
}

// Rewrite replaces the file's content with recs, atomically: a crash leaves
// either the old file or the new one, never a mix.
func (s *Spool) Rewrite(recs []Record) error {
	if len(recs) == 0 {
		return s.Remove()
	}
	tmp := s.path + ".tmp"
	os.Remove(tmp)
	t := &Spool{path: tmp, max: 1<<63 - 1}
	if _, err := t.Append(recs, ""); err != nil {
		return err
	}
	if err := os.Rename(tmp, s.path); err != nil {
		return fmt.Errorf("usage: spool: %w", err)
	}
	syncDir(filepath.Dir(s.path))
	s.size.Store(t.Size())
	return nil
}

// Remove deletes the file, once its records are safely elsewhere.
func (s *Spool) Remove() error {
	if err := os.Remove(s.path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("usage: spool: %w", err)
	}
	s.size.Store(0)
	syncDir(filepath.Dir(s.path))
	return nil
}

// syncDir fsyncs a directory so that a file created, renamed or removed in
// it stays so after a power cut. It is best effort: some file systems do not
// support it, and the data itself is already synced.
func syncDir(dir string) {
	if d, err := os.Open(dir); err == nil {
		d.Sync()
		d.Close()
	}
}
