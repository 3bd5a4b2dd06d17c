package specs

import (
	"crypto/rand"
	"encoding/base64"

	boxv1 "boxoffice.dev/boxoffice/api/v1alpha1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// NewToken returns a random bearer token: 32 bytes from the system's CSPRNG.
func NewToken() (string, error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}

// TokenSecret is the shard's bearer token. It is created once and never
// re-applied: re-applying would rotate the token under running pods.
func TokenSecret(st *boxv1.Showtime, token string) *corev1.Secret {
	return RandomSecret(st, st.TokenSecretName(), boxv1.ComponentShard, boxv1.TokenSecretKey, token)
}

// PeerTokenSecret is the secret a replicated shard's members present to
// each other on the peer port. Created once, like the shard's token.
func PeerTokenSecret(st *boxv1.Showtime, token string) *corev1.Secret {
	return RandomSecret(st, st.PeerTokenSecretName(), boxv1.ComponentShard, boxv1.PeerTokenSecretKey, token)
}

// RandomSecret is an immutable Secret holding one generated value (a token,
// a session key, a callback secret), owned by the Showtime. It carries no
// version label: it is created once and never re-applied, so one would go
// stale at the first release.
func RandomSecret(st *boxv1.Showtime, name, component, key, value string) *corev1.Secret {
	t := true
	return &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{
			Name:      name,
			Namespace: st.Namespace,
			Labels:    st.OwnedLabels(component),
			OwnerReferences: []metav1.OwnerReference{{
				APIVersion:         boxv1.GroupVersion.String(),
				Kind:               "Showtime",
				Name:               st.Name,
				UID:                st.UID,
				Controller:         &t,
				BlockOwnerDeletion: &t,
			}},
		},
		Type:      corev1.SecretTypeOpaque,
		Immutable: &t,
		Data:      map[string][]byte{key: []byte(value)},
	}
}
