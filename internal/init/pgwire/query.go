package pgwire

import (
	"context"
	"errors"
	"strings"

	"github.com/jackc/pgx/v5/pgproto3"
)

// Query runs sql with the simple query protocol and returns the rows as text, a nil *string for
// NULL. sql may hold several statements; their rows come back in order. On an error from the server
// the session stays usable for the next call unless the error was FATAL.
func (c *Conn) Query(ctx context.Context, sql string) ([][]*string, error) {
	if c.closed {
		return nil, ErrClosed
	}
	// The query travels as a NUL-terminated string: a NUL would silently cut the statement short.
	if strings.IndexByte(sql, 0) >= 0 {
		return nil, errors.New("pgwire: the query contains a NUL byte")
	}
	stop := c.watch(ctx)
	rows, err := c.query(sql)
	if !stop() {
		c.closed = true // the answer is complete, but ctx has closed the socket under it
	}
	if err != nil && c.closed {
		return nil, c.ctxErr(ctx, err)
	}
	return rows, err
}

// Exec runs sql and discards any rows.
func (c *Conn) Exec(ctx context.Context, sql string) error {
	_, err := c.Query(ctx, sql)
	return err
}

// query sends sql and reads up to ReadyForQuery. Any failure other than an ErrorResponse leaves the
// protocol in an unknown state, so it aborts the connection.
func (c *Conn) query(sql string) ([][]*string, error) {
	c.fe.Send(&pgproto3.Query{String: sql})
	if err := c.fe.Flush(); err != nil {
		c.abort()
		return nil, err
	}
	var rows [][]*string
	var firstErr error // the server reports one error per query, then skips the rest
	for {
		msg, err := c.fe.Receive()
		if err != nil {
			c.abort()
			return nil, err
		}
		switch m := msg.(type) {
		case *pgproto3.DataRow:
			rows = append(rows, textRow(m.Values))
		case *pgproto3.RowDescription, *pgproto3.CommandComplete, *pgproto3.EmptyQueryResponse,
			*pgproto3.NoticeResponse, *pgproto3.NotificationResponse, *pgproto3.CopyData, *pgproto3.CopyDone,
			*pgproto3.ParameterStatus:
			// Column names and parameters are not needed by the callers; COPY TO STDOUT's data is dropped.
		case *pgproto3.CopyOutResponse:
		case *pgproto3.CopyInResponse:
			// The server waits for data this API cannot supply; refusing ends the statement with an error.
			c.fe.Send(&pgproto3.CopyFail{Message: "pgwire does not support COPY FROM STDIN"})
			if err := c.fe.Flush(); err != nil {
				c.abort()
				return nil, err
			}
		case *pgproto3.ErrorResponse:
			pgErr := serverError(m)
			if pgErr.fatal() {
				c.abort() // the server closes the session after a FATAL error
				return nil, pgErr
			}
			if firstErr == nil {
				firstErr = pgErr
			}
		case *pgproto3.ReadyForQuery:
			if firstErr != nil {
				return nil, firstErr
			}
			return rows, nil
		default:
			c.abort()
			return nil, unexpected(msg, "in answer to a query")
		}
	}
}

// textRow copies a DataRow's values, which pgproto3 reuses on the next Receive.
func textRow(values [][]byte) []*string {
	row := make([]*string, len(values))
	for i, v := range values {
		if v != nil {
			s := string(v)
			row[i] = &s
		}
	}
	return row
}
