package scram

// PGAccepts exposes the model of PostgreSQL's verifier grammar to tests.
var PGAccepts = pgAccepts

// PgxNormalize exposes the model of pgx's password normalisation to tests.
var PgxNormalize = pgxNormalize
