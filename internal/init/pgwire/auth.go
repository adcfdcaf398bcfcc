package pgwire

import (
	"crypto/md5"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"

	"github.com/jackc/pgx/v5/pgproto3"
)

// ErrPasswordRequired means the server asked for a password and Config.Password is empty.
var ErrPasswordRequired = errors.New("pgwire: the server asks for a password and none is set")

// authenticate answers the server's authentication requests until AuthenticationOk.
func (c *Conn) authenticate(cfg Config) error {
	var sc *scramClient // set once a SCRAM exchange starts
	for {
		msg, err := c.fe.Receive()
		if err != nil {
			return err
		}
		switch m := msg.(type) {
		case *pgproto3.AuthenticationOk:
			// A server that skips the SCRAM final message has not proved it knows the password.
			if sc != nil && !sc.verified {
				return errors.New("pgwire: the server ended SCRAM authentication without proving its identity")
			}
			return nil
		case *pgproto3.AuthenticationCleartextPassword:
			if cfg.Password == "" {
				return fmt.Errorf("%w (cleartext)", ErrPasswordRequired)
			}
			c.fe.Send(&pgproto3.PasswordMessage{Password: cfg.Password})
		case *pgproto3.AuthenticationMD5Password:
			if cfg.Password == "" {
				return fmt.Errorf("%w (md5)", ErrPasswordRequired)
			}
			c.fe.Send(&pgproto3.PasswordMessage{Password: md5Password(cfg.User, cfg.Password, m.Salt)})
		case *pgproto3.AuthenticationSASL:
			if !slices.Contains(m.AuthMechanisms, scramMechanism) {
				return fmt.Errorf("pgwire: the server offers SASL mechanisms %v; only %s (without channel binding) is supported", m.AuthMechanisms, scramMechanism)
			}
			if cfg.Password == "" {
				return fmt.Errorf("%w (%s)", ErrPasswordRequired, scramMechanism)
			}
			if sc != nil {
				return errors.New("pgwire: the server restarted SASL authentication")
			}
			if sc, err = newSCRAMClient(cfg.Password); err != nil {
				return err
			}
			c.fe.Send(&pgproto3.SASLInitialResponse{AuthMechanism: scramMechanism, Data: sc.clientFirst()})
		case *pgproto3.AuthenticationSASLContinue:
			if sc == nil {
				return unexpected(msg, "before SASL started")
			}
			final, err := sc.clientFinal(m.Data)
			if err != nil {
				return err
			}
			c.fe.Send(&pgproto3.SASLResponse{Data: final})
		case *pgproto3.AuthenticationSASLFinal:
			if sc == nil {
				return unexpected(msg, "before SASL started")
			}
			if err := sc.verifyServerFinal(m.Data); err != nil {
				return err
			}
			continue // nothing to send; AuthenticationOk follows
		case *pgproto3.ErrorResponse:
			return serverError(m)
		case *pgproto3.NoticeResponse:
			continue
		case *pgproto3.AuthenticationGSS, *pgproto3.AuthenticationGSSContinue:
			return errors.New("pgwire: the server asks for GSSAPI (Kerberos) authentication, which is not supported")
		default:
			return unexpected(msg, "during authentication")
		}
		if err := c.fe.Flush(); err != nil {
			return err
		}
	}
}

// md5Password is PostgreSQL's MD5 answer: "md5" + md5hex(md5hex(password + user) + salt).
func md5Password(user, password string, salt [4]byte) string {
	inner := md5.Sum([]byte(password + user))
	outer := md5.Sum(append([]byte(hex.EncodeToString(inner[:])), salt[:]...))
	return "md5" + hex.EncodeToString(outer[:])
}
