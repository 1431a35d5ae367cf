package authz

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"golang.org/x/crypto/argon2"
)

// Argon2idParams are the cost of a password hash. They travel inside the
// PHC string, so raising them later re-hashes nobody but slows no old
// hash either.
type Argon2idParams struct {
	MemoryKiB uint32
	Time      uint32
	Threads   uint8
}

// DefaultArgon2id is OWASP's first argon2id recommendation (19 MiB, two
// passes, one lane): strong enough for admin passwords and cheap enough
// that a burst of sign-ins cannot exhaust a small gateway's memory.
var DefaultArgon2id = Argon2idParams{MemoryKiB: 19 * 1024, Time: 2, Threads: 1}

// limits on what a stored hash may ask for, so a tampered row cannot make
// a verification allocate gigabytes.
const (
	maxMemoryKiB = 1 << 20 // 1 GiB
	maxTime      = 20
	saltLen      = 16
	keyLen       = 32
)

// ErrBadHash is returned for a stored hash that is not an argon2id PHC
// string this package can verify.
var ErrBadHash = errors.New("authz: not an argon2id PHC string")

// HashPassword returns password hashed with argon2id and a fresh random
// salt, in PHC string form:
//
//	$argon2id$v=19$m=19456,t=2,p=1$<salt, base64 without padding>$<hash>
func HashPassword(password string, p Argon2idParams) string {
	salt := make([]byte, saltLen)
	rand.Read(salt)
	sum := argon2.IDKey([]byte(password), salt, p.Time, p.MemoryKiB, p.Threads, keyLen)
	b64 := base64.RawStdEncoding
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s", argon2.Version, p.MemoryKiB, p.Time, p.Threads,
		b64.EncodeToString(salt), b64.EncodeToString(sum))
}

// CheckPassword reports whether password matches hash (a HashPassword
// result), comparing in constant time.
func CheckPassword(hash, password string) (bool, error) {
	p, salt, sum, err := ParsePHC(hash)
	if err != nil {
		return false, err
	}
	got := argon2.IDKey([]byte(password), salt, p.Time, p.MemoryKiB, p.Threads, uint32(len(sum)))
	return subtle.ConstantTimeCompare(got, sum) == 1, nil
}

// ParsePHC reads an argon2id PHC string into its parameters, salt and
// hash, refusing other algorithms, versions and out-of-range costs.
func ParsePHC(s string) (Argon2idParams, []byte, []byte, error) {
	var p Argon2idParams
	parts := strings.Split(s, "$")
	// "", "argon2id", "v=19", "m=…,t=…,p=…", salt, hash
	if len(parts) != 6 || parts[0] != "" || parts[1] != "argon2id" {
		return p, nil, nil, ErrBadHash
	}
	if parts[2] != "v="+strconv.Itoa(argon2.Version) {
		return p, nil, nil, fmt.Errorf("%w: version %q", ErrBadHash, parts[2])
	}
	seen := 0
	for kv := range strings.SplitSeq(parts[3], ",") {
		k, v, ok := strings.Cut(kv, "=")
		if !ok {
			return p, nil, nil, fmt.Errorf("%w: parameter %q", ErrBadHash, kv)
		}
		n, err := strconv.ParseUint(v, 10, 32)
		if err != nil {
			return p, nil, nil, fmt.Errorf("%w: parameter %q", ErrBadHash, kv)
		}
		switch {
		case k == "m" && seen&1 == 0 && n >= 8 && n <= maxMemoryKiB:
			p.MemoryKiB, seen = uint32(n), seen|1
		case k == "t" && seen&2 == 0 && n >= 1 && n <= maxTime:
			p.Time, seen = uint32(n), seen|2
		case k == "p" && seen&4 == 0 && n >= 1 && n <= 255:
			p.Threads, seen = uint8(n), seen|4
		default:
			return p, nil, nil, fmt.Errorf("%w: parameter %q", ErrBadHash, kv)
		}
	}
	if seen != 7 {
		return p, nil, nil, fmt.Errorf("%w: needs m, t and p", ErrBadHash)
	}
	salt, err := base64.RawStdEncoding.Strict().DecodeString(parts[4])
	if err != nil || len(salt) < 8 || len(salt) > 64 {
		return p, nil, nil, fmt.Errorf("%w: salt", ErrBadHash)
	}
	sum, err := base64.RawStdEncoding.Strict().DecodeString(parts[5])
	if err != nil || len(sum) < 16 || len(sum) > 64 {
		return p, nil, nil, fmt.Errorf("%w: hash", ErrBadHash)
	}
	return p, salt, sum, nil
}
