package frontend

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"net/http"
	"strings"
	"time"
)

// SessionCookie is the name of the buyer's session cookie.
const SessionCookie = "boxoffice_session"

const sessionMaxAge = 7 * 24 * time.Hour

// minSessionKeyBytes is the shortest accepted session key (after trimming
// surrounding whitespace). The operator generates 32 random bytes, base64
// encoded (43 characters).
const minSessionKeyBytes = 32

// sessions signs and checks buyer session cookies. The cookie value is
// "<holder>.<mac>", where holder is a random id and mac is HMAC-SHA256 of the
// holder under the session key. The holder is what the shard records as the
// owner of a hold, so a forged cookie would let one buyer act on another's
// hold; the MAC prevents that.
type sessions struct {
	key    []byte
	secure bool
}

func (s *sessions) mac(holder string) string {
	m := hmac.New(sha256.New, s.key)
	m.Write([]byte("boxoffice-session-v1\x00"))
	m.Write([]byte(holder))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

func (s *sessions) encode(holder string) string { return holder + "." + s.mac(holder) }

// decode returns the holder of a cookie value, or "" if it is not genuine.
func (s *sessions) decode(v string) string {
	holder, mac, ok := strings.Cut(v, ".")
	if !ok || !strings.HasPrefix(holder, "b-") || len(holder) > 64 {
		return ""
	}
	if !hmac.Equal([]byte(mac), []byte(s.mac(holder))) {
		return ""
	}
	return holder
}

// fromRequest returns the request's holder, or "" when it has no valid cookie.
func (s *sessions) fromRequest(r *http.Request) string {
	c, err := r.Cookie(SessionCookie)
	if err != nil {
		return ""
	}
	return s.decode(c.Value)
}

// issue makes a new holder and sets its session cookie on the response.
func (s *sessions) issue(w http.ResponseWriter) string {
	holder := newHolderID()
	http.SetCookie(w, &http.Cookie{
		Name:     SessionCookie,
		Value:    s.encode(holder),
		Path:     "/",
		MaxAge:   int(sessionMaxAge / time.Second),
		HttpOnly: true,
		Secure:   s.secure,
		SameSite: http.SameSiteLaxMode,
	})
	return holder
}

func newHolderID() string { return "b-" + randomHex(12) }

func randomHex(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	return hex.EncodeToString(b)
}
