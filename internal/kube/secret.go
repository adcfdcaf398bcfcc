package kube

import (
	"crypto/rand"
	"encoding/hex"
)

// SecretValues returns the Secret's values: each one the cluster holds already, as it is (a
// database initialized with a password keeps it), and a fresh one from crypto/rand for each key
// that is missing, in the formats nixify-init generates (Garage's key id GK and 24 hex digits, its
// secret 64 hex digits; the passwords and token 26 characters of base32). It returns which keys it
// generated.
func SecretValues(have map[string][]byte) (values map[string]string, generated []string) {
	values = map[string]string{}
	for _, k := range SecretKeys {
		if v := have[k]; len(v) > 0 {
			values[k] = string(v)
			continue
		}
		switch k {
		case "GARAGE_ACCESS_KEY":
			values[k] = "GK" + randomHex(12)
		case "GARAGE_SECRET_KEY":
			values[k] = randomHex(32)
		default:
			values[k] = rand.Text()
		}
		generated = append(generated, k)
	}
	return values, generated
}

func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b) // never fails on Linux (crypto/rand: "Read ... never returns an error")
	return hex.EncodeToString(b)
}
