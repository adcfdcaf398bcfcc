package pgwire

import (
	"strings"
	"testing"
)

// The exchange of RFC 7677, section 3 (user "user", password "pencil").
const (
	rfcNonce       = "rOprNGfwEbeRWgbNEkqO"
	rfcServerFirst = "r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096"
	rfcClientFinal = "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ="
	rfcServerFinal = "v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4="
)

func rfcClient() *scramClient {
	s := newSCRAMClientNonce("pencil", rfcNonce)
	s.firstBare = "n=user,r=" + rfcNonce // PostgreSQL sends n=, the RFC names the user
	return s
}

func TestSCRAMRFC7677(t *testing.T) {
	s := rfcClient()
	if got := string(s.clientFirst()); got != "n,,n=user,r="+rfcNonce {
		t.Fatalf("client-first = %q", got)
	}
	final, err := s.clientFinal([]byte(rfcServerFirst))
	if err != nil {
		t.Fatal(err)
	}
	if string(final) != rfcClientFinal {
		t.Fatalf("client-final = %q\nwant           %q", final, rfcClientFinal)
	}
	if err := s.verifyServerFinal([]byte(rfcServerFinal)); err != nil || !s.verified {
		t.Fatalf("server-final: %v", err)
	}
}

func TestSCRAMRejectsBadServers(t *testing.T) {
	first := map[string]string{
		"nonce not extended":   "r=" + rfcNonce + ",s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096",
		"other nonce":          "r=XXXXNGfwEbeRWgbNEkqO%hvY,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096",
		"mandatory extension":  "m=x," + rfcServerFirst,
		"salt not base64":      "r=" + rfcNonce + "x,s=***,i=4096",
		"iterations zero":      "r=" + rfcNonce + "x,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=0",
		"iterations too many":  "r=" + rfcNonce + "x,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=999999999",
		"fields out of order":  "s=W22ZaJ0SNY7soEsUEjb6gQ==,r=" + rfcNonce + "x,i=4096",
		"unprintable in nonce": "r=" + rfcNonce + "\x01,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096",
	}
	for name, msg := range first {
		if _, err := rfcClient().clientFinal([]byte(msg)); err == nil {
			t.Errorf("%s: accepted %q", name, msg)
		}
	}
	final := map[string]string{
		"wrong signature": "v=AAAATRBi23WpRR/wfg+bw4ZeFZUVrnUlzHcAi3+ehCM=",
		"server error":    "e=invalid-proof",
		"garbage":         "x",
	}
	for name, msg := range final {
		s := rfcClient()
		if _, err := s.clientFinal([]byte(rfcServerFirst)); err != nil {
			t.Fatal(err)
		}
		if err := s.verifyServerFinal([]byte(msg)); err == nil || s.verified {
			t.Errorf("%s: accepted %q", name, msg)
		}
	}
	if err := rfcClient().verifyServerFinal([]byte(rfcServerFinal)); err == nil {
		t.Error("a server-final before the client's proof was accepted")
	}
}

// FuzzParseServerFirst feeds arbitrary server-first-messages to the parser: it must never panic, and
// whatever it accepts must be safe to run PBKDF2 on.
func FuzzParseServerFirst(f *testing.F) {
	f.Add(rfcServerFirst)
	f.Add("r=" + rfcNonce + "x,s=AA==,i=1,ext=1")
	f.Add("m=a,r=b,s=c,i=d")
	f.Add(",,,")
	f.Fuzz(func(t *testing.T, msg string) {
		sf, err := parseServerFirst(msg, rfcNonce)
		if err != nil {
			return
		}
		if !strings.HasPrefix(sf.nonce, rfcNonce) || len(sf.nonce) == len(rfcNonce) || len(sf.salt) == 0 ||
			sf.iterations < 1 || sf.iterations > maxSCRAMIterations {
			t.Fatalf("accepted %q as %+v", msg, sf)
		}
	})
}
