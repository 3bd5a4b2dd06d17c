package frontend

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// SessionCookie is the name of the buyer's session cookie.
const SessionCookie = "boxoffice_session"

// minSessionKeyBytes is the shortest accepted session key (after trimming
// surrounding whitespace). The operator generates 32 random bytes, base64
// encoded (43 characters).
const minSessionKeyBytes = 32

// sessionClockSkew is how far in the future an issue time may lie (replicas'
// clocks differ a little).
const sessionClockSkew = time.Minute

// sessions signs and checks buyer session cookies. The cookie value is
// "<holder>.<issued>.<mac>": holder is a random id, issued the issue time in
// unix seconds (base 36), and mac HMAC-SHA256 of both under the session key.
// The holder is what the shard records as the owner of a hold, so a forged
// cookie would let one buyer act on another's hold; the MAC prevents that.
// A cookie is valid for maxAge after it was issued. Cookies signed with the
// previous key (prev) are still accepted, so the key can rotate without
// logging anybody out; they are re-signed with the current key on use.
type sessions struct {
	key    []byte
	prev   []byte // previous key, or nil
	secure bool
	maxAge time.Duration
	now    func() time.Time
}

func sessionMAC(key []byte, holder, issued string) string {
	m := hmac.New(sha256.New, key)
	m.Write([]byte("boxoffice-session-v2\x00"))
	m.Write([]byte(holder))
	m.Write([]byte{0})
	m.Write([]byte(issued))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

func (s *sessions) encode(holder string, issued time.Time) string {
	ts := strconv.FormatInt(issued.Unix(), 36)
	return holder + "." + ts + "." + sessionMAC(s.key, holder, ts)
}

// session is a checked cookie.
type session struct {
	holder string
	issued time.Time
	stale  bool // signed with the previous key: re-sign it
}

// decode checks a cookie value; ok is false when it is not genuine or has
// expired.
func (s *sessions) decode(v string) (session, bool) {
	parts := strings.Split(v, ".")
	if len(parts) != 3 || !strings.HasPrefix(parts[0], "b-") || len(parts[0]) > 64 || len(parts[1]) > 12 {
		return session{}, false
	}
	holder, ts, mac := parts[0], parts[1], []byte(parts[2])
	sec, err := strconv.ParseInt(ts, 36, 64)
	if err != nil {
		return session{}, false
	}
	issued := time.Unix(sec, 0)
	if now := s.now(); now.Sub(issued) >= s.maxAge || issued.Sub(now) > sessionClockSkew {
		return session{}, false
	}
	if hmac.Equal(mac, []byte(sessionMAC(s.key, holder, ts))) {
		return session{holder: holder, issued: issued}, true
	}
	if s.prev != nil && hmac.Equal(mac, []byte(sessionMAC(s.prev, holder, ts))) {
		return session{holder: holder, issued: issued, stale: true}, true
	}
	return session{}, false
}

// fromRequest returns the request's session; ok is false when it has no
// valid cookie.
func (s *sessions) fromRequest(r *http.Request) (session, bool) {
	for _, c := range r.CookiesNamed(SessionCookie) {
		if se, ok := s.decode(c.Value); ok {
			return se, true
		}
	}
	return session{}, false
}

// issue makes a new holder and sets its session cookie on the response.
func (s *sessions) issue(w http.ResponseWriter) string {
	holder := newHolderID()
	s.set(w, holder, s.now())
	return holder
}

// set writes the cookie for holder, issued at issued; it expires maxAge later.
func (s *sessions) set(w http.ResponseWriter, holder string, issued time.Time) {
	left := issued.Add(s.maxAge).Sub(s.now())
	http.SetCookie(w, &http.Cookie{
		Name:     SessionCookie,
		Value:    s.encode(holder, issued),
		Path:     "/",
		MaxAge:   max(1, int(left/time.Second)),
		HttpOnly: true,
		Secure:   s.secure,
		SameSite: http.SameSiteLaxMode,
	})
}

func newHolderID() string { return "b-" + randomHex(12) }

func randomHex(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	return hex.EncodeToString(b)
}
