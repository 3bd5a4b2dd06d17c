package server

import (
	"crypto/sha256"
	"crypto/subtle"
	"net/http"
	"strings"

	"boxoffice.dev/boxoffice/shard/shardapi"
)

// bearerOK reports whether r carries "Authorization: Bearer <token>" (the
// scheme in any case). An empty token lets every request through. Digests
// are compared so neither the content nor the length of the token leaks
// through timing.
func bearerOK(r *http.Request, token string) bool {
	if token == "" {
		return true
	}
	h := r.Header.Get(shardapi.HeaderAuthorization)
	const prefix = "Bearer "
	if len(h) < len(prefix) || !strings.EqualFold(h[:len(prefix)], prefix) {
		return false
	}
	got := sha256.Sum256([]byte(h[len(prefix):]))
	want := sha256.Sum256([]byte(token))
	return subtle.ConstantTimeCompare(got[:], want[:]) == 1
}
