package galeratest

import (
	"context"
	"fmt"
	"regexp"
	"sort"
	"strings"
	"time"
)

var identRE = regexp.MustCompile(`^[A-Za-z0-9_]+$`)

// loadBatch is the number of rows per INSERT ... SELECT: it keeps every
// Galera write set well below gcache.size and wsrep_max_ws_size.
const loadBatch = 20000

// RowBytes is the approximate number of bytes LoadData and InsertRows store
// per row (across both InnoDB tables), so rows = size / RowBytes.
const RowBytes = 1000

// LoadData creates schema with two InnoDB tables, t1 (sysbench-like) and
// t2 (a blob payload), fills them with rows rows each (about RowBytes per
// row in total), and adds an Aria table t3 with rows/10 rows. The data is
// made from MD5 hashes of the row number: distinct, half compressible.
// It fails if schema exists. Rows are inserted in batches of 20000 through
// the Sequence engine (seq_1_to_N).
//
// Aria writes are not replicated by Galera (unless wsrep_mode has
// REPLICATE_ARIA), so t3 reaches other nodes by SST only; InsertRows, which
// adds to t1 and t2 only, is what to use between an SST and an IST.
func LoadData(ctx context.Context, n *Node, schema string, rows int) error {
	if !identRE.MatchString(schema) {
		return fmt.Errorf("galeratest: load data: invalid schema name %q", schema)
	}
	t0 := time.Now()
	ddl := fmt.Sprintf(`CREATE DATABASE %[1]s;
CREATE TABLE %[1]s.t1 (
  id INT UNSIGNED NOT NULL PRIMARY KEY,
  k INT UNSIGNED NOT NULL,
  c CHAR(120) NOT NULL,
  pad VARCHAR(512) NOT NULL,
  KEY k (k)
) ENGINE=InnoDB;
CREATE TABLE %[1]s.t2 (
  id INT UNSIGNED NOT NULL PRIMARY KEY,
  payload BLOB NOT NULL,
  created DATETIME NOT NULL
) ENGINE=InnoDB;
CREATE TABLE %[1]s.t3 (
  id INT UNSIGNED NOT NULL PRIMARY KEY,
  note VARCHAR(255) NOT NULL
) ENGINE=Aria;`, schema)
	if _, err := n.Exec(ctx, ddl); err != nil {
		return fmt.Errorf("galeratest: load data: %w", err)
	}
	if err := insertRows(ctx, n, schema, 1, rows); err != nil {
		return err
	}
	if a := rows / 10; a > 0 {
		q := fmt.Sprintf("INSERT INTO %[1]s.t3 SELECT seq, REPEAT(MD5(seq), 4) FROM %[1]s.seq_1_to_%[2]d", schema, a)
		if _, err := n.Exec(ctx, q); err != nil {
			return fmt.Errorf("galeratest: load data: %w", err)
		}
	}
	n.c.log("%s: loaded %d rows into %s in %v", n.name, rows, schema, time.Since(t0).Round(time.Millisecond))
	return nil
}

// InsertRows appends rows rows to the InnoDB tables t1 and t2 of a schema
// made by LoadData, continuing after the highest id present.
func InsertRows(ctx context.Context, n *Node, schema string, rows int) error {
	if !identRE.MatchString(schema) {
		return fmt.Errorf("galeratest: insert rows: invalid schema name %q", schema)
	}
	out, err := n.Exec(ctx, fmt.Sprintf("SELECT COALESCE(MAX(id), 0) FROM %s.t1", schema))
	if err != nil {
		return fmt.Errorf("galeratest: insert rows: %w", err)
	}
	var last int
	if _, err := fmt.Sscan(out, &last); err != nil {
		return fmt.Errorf("galeratest: insert rows: parse max id %q: %w", out, err)
	}
	return insertRows(ctx, n, schema, last+1, rows)
}

func insertRows(ctx context.Context, n *Node, schema string, first, rows int) error {
	for lo := first; lo < first+rows; lo += loadBatch {
		hi := min(lo+loadBatch-1, first+rows-1)
		q := fmt.Sprintf(`INSERT INTO %[1]s.t1 SELECT seq, seq * 7919 %% 1000003,
  CONCAT_WS('-', MD5(seq), MD5(seq+1), MD5(seq+2)),
  CONCAT(MD5(seq*3), REPEAT(CHAR(65 + seq %% 26), 100), MD5(seq*5), SHA2(seq, 512))
FROM %[1]s.seq_%[2]d_to_%[3]d;
INSERT INTO %[1]s.t2 SELECT seq,
  CONCAT(SHA2(seq, 512), SHA2(seq+1, 512), REPEAT(MD5(seq), 2)),
  '2024-01-01' + INTERVAL seq SECOND
FROM %[1]s.seq_%[2]d_to_%[3]d;`, schema, lo, hi)
		if _, err := n.Exec(ctx, q); err != nil {
			return fmt.Errorf("galeratest: insert rows %d-%d into %s: %w", lo, hi, schema, err)
		}
	}
	return nil
}

// Checksums returns CHECKSUM TABLE of every base table of the given schemas,
// keyed by "schema.table". Before checksumming it waits (wsrep_sync_wait)
// until the node has applied everything committed in the cluster so far.
func (n *Node) Checksums(ctx context.Context, schemas ...string) (map[string]string, error) {
	if len(schemas) == 0 {
		return nil, fmt.Errorf("galeratest: checksums: no schema given")
	}
	quoted := make([]string, len(schemas))
	for i, s := range schemas {
		if !identRE.MatchString(s) {
			return nil, fmt.Errorf("galeratest: checksums: invalid schema name %q", s)
		}
		quoted[i] = "'" + s + "'"
	}
	list, err := n.Exec(ctx, fmt.Sprintf(`SELECT CONCAT(table_schema, '.', table_name)
FROM information_schema.tables
WHERE table_type = 'BASE TABLE' AND table_schema IN (%s)
ORDER BY 1`, strings.Join(quoted, ",")))
	if err != nil {
		return nil, fmt.Errorf("galeratest: checksums: %w", err)
	}
	if list == "" {
		return map[string]string{}, nil
	}
	tables := strings.Split(list, "\n")
	out, err := n.Exec(ctx, "SET SESSION wsrep_sync_wait = 1; SELECT 1; CHECKSUM TABLE "+strings.Join(tables, ", "))
	if err != nil {
		return nil, fmt.Errorf("galeratest: checksums: %w", err)
	}
	sums := make(map[string]string, len(tables))
	for _, l := range strings.Split(out, "\n") {
		name, sum, ok := strings.Cut(l, "\t")
		if !ok || name == "1" && sum == "" {
			continue
		}
		sums[name] = sum
	}
	for _, t := range tables {
		if _, ok := sums[t]; !ok {
			return nil, fmt.Errorf("galeratest: checksums: no result for %s in %q", t, out)
		}
	}
	return sums, nil
}

// DiffChecksums compares two results of Checksums and returns one line per
// table that is missing on either side or differs, sorted; nil means equal.
func DiffChecksums(a, b map[string]string) []string {
	var diffs []string
	for t, x := range a {
		y, ok := b[t]
		switch {
		case !ok:
			diffs = append(diffs, fmt.Sprintf("%s: only on first (%s)", t, x))
		case x != y:
			diffs = append(diffs, fmt.Sprintf("%s: %s != %s", t, x, y))
		}
	}
	for t, y := range b {
		if _, ok := a[t]; !ok {
			diffs = append(diffs, fmt.Sprintf("%s: only on second (%s)", t, y))
		}
	}
	sort.Strings(diffs)
	return diffs
}
