package pgwire

import (
	"bytes"
	"crypto/hmac"
	"crypto/pbkdf2"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"
)

const scramMechanism = "SCRAM-SHA-256"

// maxSCRAMIterations bounds the PBKDF2 work a server can demand: PBKDF2 cannot be interrupted by
// the context, and PostgreSQL's default is 4096.
const maxSCRAMIterations = 1 << 22

// scramClient is the client side of SCRAM-SHA-256 (RFC 5802, RFC 7677) without channel binding.
//
// The password is used as given, without SASLprep (RFC 4013). PostgreSQL applies SASLprep when it
// stores a verifier and falls back to the raw bytes when the password is not valid for SASLprep, so
// the two agree for every ASCII password and for Unicode text that SASLprep leaves unchanged (already
// NFKC-normalised, no non-ASCII spaces or soft hyphens). Other passwords fail with SQLSTATE 28P01.
// Skipping it spares the init golang.org/x/text's Unicode tables.
type scramClient struct {
	password  string
	nonce     string // client nonce
	firstBare string // client-first-message-bare
	serverSig []byte // expected ServerSignature, known after clientFinal
	verified  bool   // the server proved it knows the verifier
}

func newSCRAMClient(password string) (*scramClient, error) {
	raw := make([]byte, 18)
	if _, err := rand.Read(raw); err != nil {
		return nil, err
	}
	return newSCRAMClientNonce(password, base64.StdEncoding.EncodeToString(raw)), nil
}

func newSCRAMClientNonce(password, nonce string) *scramClient {
	// PostgreSQL takes the user from the startup message and ignores n=, which libpq leaves empty.
	return &scramClient{password: password, nonce: nonce, firstBare: "n=,r=" + nonce}
}

// clientFirst is the client-first-message: no channel binding ("n,,"), no authzid.
func (s *scramClient) clientFirst() []byte { return []byte("n,," + s.firstBare) }

// serverFirst is what a server-first-message holds.
type serverFirst struct {
	nonce      string
	salt       []byte
	iterations int
}

// parseServerFirst reads "r=<nonce>,s=<salt>,i=<iterations>[,extensions]" and checks the nonce
// extends the client's.
func parseServerFirst(msg, clientNonce string) (serverFirst, error) {
	var sf serverFirst
	fields := strings.Split(msg, ",")
	if len(fields) < 3 || !strings.HasPrefix(fields[0], "r=") || !strings.HasPrefix(fields[1], "s=") || !strings.HasPrefix(fields[2], "i=") {
		if strings.HasPrefix(msg, "m=") {
			return sf, errors.New("pgwire: the server demands a SCRAM extension this client does not know")
		}
		return sf, errors.New("pgwire: malformed SCRAM server-first-message")
	}
	sf.nonce = fields[0][2:]
	if len(sf.nonce) <= len(clientNonce) || !strings.HasPrefix(sf.nonce, clientNonce) {
		return sf, errors.New("pgwire: the server's SCRAM nonce does not extend the client's")
	}
	for _, r := range sf.nonce {
		if r < 0x21 || r > 0x7e { // printable ASCII except ','; ',' cannot occur after the split
			return sf, errors.New("pgwire: the server's SCRAM nonce holds unprintable characters")
		}
	}
	salt, err := base64.StdEncoding.DecodeString(fields[1][2:])
	if err != nil || len(salt) == 0 {
		return sf, errors.New("pgwire: the server's SCRAM salt is not base64")
	}
	sf.salt = salt
	sf.iterations, err = strconv.Atoi(fields[2][2:])
	if err != nil || sf.iterations < 1 || sf.iterations > maxSCRAMIterations {
		return sf, fmt.Errorf("pgwire: the server's SCRAM iteration count %q is not between 1 and %d", fields[2][2:], maxSCRAMIterations)
	}
	return sf, nil
}

// clientFinal answers the server-first-message with the client proof and remembers the signature
// the server must send back.
func (s *scramClient) clientFinal(serverFirstMsg []byte) ([]byte, error) {
	sf, err := parseServerFirst(string(serverFirstMsg), s.nonce)
	if err != nil {
		return nil, err
	}
	salted, err := pbkdf2.Key(sha256.New, s.password, sf.salt, sf.iterations, sha256.Size)
	if err != nil {
		return nil, err
	}
	withoutProof := "c=biws,r=" + sf.nonce // biws is base64("n,,")
	authMessage := s.firstBare + "," + string(serverFirstMsg) + "," + withoutProof

	clientKey := hmacSHA256(salted, "Client Key")
	storedKey := sha256.Sum256(clientKey)
	proof := hmacSHA256(storedKey[:], authMessage)
	for i := range proof {
		proof[i] ^= clientKey[i]
	}
	s.serverSig = hmacSHA256(hmacSHA256(salted, "Server Key"), authMessage)
	return []byte(withoutProof + ",p=" + base64.StdEncoding.EncodeToString(proof)), nil
}

// verifyServerFinal checks "v=<ServerSignature>"; "e=<reason>" is the server refusing.
func (s *scramClient) verifyServerFinal(msg []byte) error {
	if s.serverSig == nil {
		return errors.New("pgwire: SCRAM server-final-message before the client's proof")
	}
	if reason, ok := bytes.CutPrefix(msg, []byte("e=")); ok {
		return fmt.Errorf("pgwire: the server rejected SCRAM authentication: %.80q", reason)
	}
	v, ok := bytes.CutPrefix(msg, []byte("v="))
	if !ok {
		return errors.New("pgwire: malformed SCRAM server-final-message")
	}
	if i := bytes.IndexByte(v, ','); i >= 0 {
		v = v[:i] // extensions follow
	}
	sig, err := base64.StdEncoding.DecodeString(string(v))
	if err != nil || !hmac.Equal(sig, s.serverSig) {
		return errors.New("pgwire: the server's SCRAM signature is wrong: it does not know this user's password")
	}
	s.verified = true
	return nil
}

func hmacSHA256(key []byte, msg string) []byte {
	h := hmac.New(sha256.New, key)
	h.Write([]byte(msg))
	return h.Sum(nil)
}

// SCRAMVerifier computes what PostgreSQL stores for a SCRAM-SHA-256 password (RFC 5802/7677), as
// psql's \password does, so that ALTER ROLE ... PASSWORD can set a password without the clear text
// ever reaching the server or its log.
func SCRAMVerifier(password string) (string, error) {
	const iterations = 4096
	salt := make([]byte, 16)
	if _, err := rand.Read(salt); err != nil {
		return "", err
	}
	salted, err := pbkdf2.Key(sha256.New, password, salt, iterations, sha256.Size)
	if err != nil {
		return "", err
	}
	stored := sha256.Sum256(hmacSHA256(salted, "Client Key"))
	b64 := base64.StdEncoding.EncodeToString
	return fmt.Sprintf("SCRAM-SHA-256$%d:%s$%s:%s", iterations, b64(salt), b64(stored[:]), b64(hmacSHA256(salted, "Server Key"))), nil
}
