package main

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
)

// PostgreSQL model: the row-lock design the shard replaces. One row per seat;
// a hold is one transaction that flips every requested free seat to held and
// keeps it only if it got all of them.
const pgSchema = `
DROP TABLE IF EXISTS holds;
DROP TABLE IF EXISTS seats;
CREATE TABLE seats (
  id      text PRIMARY KEY,
  state   text NOT NULL DEFAULT 'free',
  hold_id text
);
CREATE TABLE holds (
  id         text PRIMARY KEY,
  holder     text NOT NULL,
  state      text NOT NULL,
  seats      text[] NOT NULL,
  expires_at timestamptz NOT NULL,
  order_id   text
);
`

type pgBackend struct {
	pool *pgxpool.Pool
}

func newPGBackend(ctx context.Context, dsn string, conns int) (*pgBackend, error) {
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		return nil, err
	}
	cfg.MaxConns = int32(conns)
	cfg.MinConns = int32(conns)
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, err
	}
	return &pgBackend{pool: pool}, nil
}

var errShortHold = errors.New("fewer seats updated than requested")

func (b *pgBackend) Hold(ctx context.Context, ref string, seats []string) (string, bool, error) {
	tx, err := b.pool.Begin(ctx)
	if err != nil {
		return "", false, err
	}
	defer tx.Rollback(ctx) // no-op after Commit
	tag, err := tx.Exec(ctx,
		`UPDATE seats SET state = 'held', hold_id = $2 WHERE id = ANY($1) AND state = 'free'`, seats, ref)
	if err != nil {
		if isDeadlock(err) {
			return "", true, nil // the database gave up one side of a lock cycle: a conflict
		}
		return "", false, err
	}
	if tag.RowsAffected() != int64(len(seats)) {
		if err := tx.Rollback(ctx); err != nil {
			return "", false, err
		}
		return "", true, nil
	}
	if _, err := tx.Exec(ctx,
		`INSERT INTO holds (id, holder, state, seats, expires_at) VALUES ($1, $1, 'held', $2, now() + interval '10 minutes')`,
		ref, seats); err != nil {
		return "", false, err
	}
	if err := tx.Commit(ctx); err != nil {
		return "", false, err
	}
	return ref, false, nil
}

func (b *pgBackend) finish(ctx context.Context, id string, seats []string, state, orderID string) error {
	tx, err := b.pool.Begin(ctx)
	if err != nil {
		return err
	}
	defer tx.Rollback(ctx)
	tag, err := tx.Exec(ctx, `UPDATE holds SET state = $2, order_id = $3 WHERE id = $1 AND state = 'held'`,
		id, state, orderID)
	if err != nil {
		return err
	}
	if tag.RowsAffected() != 1 {
		return fmt.Errorf("hold %s is not held", id)
	}
	var q string
	if state == "sold" {
		q = `UPDATE seats SET state = 'sold' WHERE id = ANY($1) AND hold_id = $2`
	} else {
		q = `UPDATE seats SET state = 'free', hold_id = NULL WHERE id = ANY($1) AND hold_id = $2`
	}
	tag, err = tx.Exec(ctx, q, seats, id)
	if err != nil {
		return err
	}
	if tag.RowsAffected() != int64(len(seats)) {
		return fmt.Errorf("hold %s: %d of %d seats updated", id, tag.RowsAffected(), len(seats))
	}
	return tx.Commit(ctx)
}

func (b *pgBackend) Confirm(ctx context.Context, id string, seats []string, orderID string) error {
	return b.finish(ctx, id, seats, "sold", orderID)
}

func (b *pgBackend) Release(ctx context.Context, id string, seats []string) error {
	return b.finish(ctx, id, seats, "released", "")
}

func (b *pgBackend) Close() { b.pool.Close() }

func isDeadlock(err error) bool {
	var pe *pgconn.PgError
	return errors.As(err, &pe) && (pe.Code == "40P01" || pe.Code == "40001")
}

// prepPostgres creates the tables, loads every seat as free and checks the
// durability settings the comparison depends on.
func prepPostgres(ctx context.Context, dsn string, ids []string) error {
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		return err
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, pgSchema); err != nil {
		return err
	}
	rows := make([][]any, len(ids))
	for i, id := range ids {
		rows[i] = []any{id, "free"}
	}
	n, err := conn.CopyFrom(ctx, pgx.Identifier{"seats"}, []string{"id", "state"}, pgx.CopyFromRows(rows))
	if err != nil {
		return err
	}
	if int(n) != len(ids) {
		return fmt.Errorf("copied %d seats, want %d", n, len(ids))
	}
	if _, err := conn.Exec(ctx, `VACUUM ANALYZE seats`); err != nil {
		return err
	}
	for k, want := range map[string]string{"fsync": "on", "synchronous_commit": "on"} {
		var got string
		if err := conn.QueryRow(ctx, "SHOW "+k).Scan(&got); err != nil {
			return err
		}
		if got != want {
			return fmt.Errorf("postgres %s is %q, want %q", k, got, want)
		}
	}
	return nil
}

func nowUnix() int64 { return time.Now().Unix() }
