package pgwire

import "strings"

// QuoteIdent quotes a name (role, database, table) for SQL, as PostgreSQL's quote_ident does.
func QuoteIdent(s string) string {
	return `"` + strings.ReplaceAll(s, `"`, `""`) + `"`
}

// QuoteLiteral quotes a string constant for SQL, as PostgreSQL's quote_literal does: a value with a
// backslash becomes an E'...' string with the backslash doubled, so it means the same whatever
// standard_conforming_strings says.
func QuoteLiteral(s string) string {
	q := "'" + strings.ReplaceAll(s, "'", "''") + "'"
	if strings.Contains(s, `\`) {
		q = "E" + strings.ReplaceAll(q, `\`, `\\`)
	}
	return q
}
