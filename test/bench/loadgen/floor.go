package main

// The floor: what this machine and this generator give any durable server at
// a paced rate. A floor server speaks just enough of the batch contract
// (POST /v2/batch, docs/api/shard-batch.openapi.yaml) for the generator's
// batching client: it checks the token, reads and decodes the batch, writes
// the body into a preallocated file, fdatasyncs it and answers every
// operation as done. It keeps no seats, no holds, no idempotency keys, no
// Raft: no collector work to speak of, no snapshots. Run at the shard's
// half rate, its hold p99 is the part of the shard's p99 that the machine
// (two cores shared with the generator, loopback, wake-ups of idle CPUs),
// the generator's pacing and batching client, and the disk's fsync leave to
// whatever server sits behind them. It is a yardstick for the report, not a
// shard: it accepts every hold, and the file wraps around.

import (
	"context"
	"crypto/subtle"
	"encoding/binary"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/go-json-experiment/json/jsontext"

	"boxoffice.dev/boxoffice/internal/testproc"
	"boxoffice.dev/boxoffice/shard/shardapi"
)

// floorLogBytes is the floor's log file, reserved up front as the shard
// reserves its log segments, so that a write neither allocates nor grows
// the file: a batch's fdatasync flushes data only.
const floorLogBytes = 256 << 20

// floorServer answers POST /v2/batch after the batch is on disk.
type floorServer struct {
	token []byte

	mu   sync.Mutex // one write and fdatasync at a time
	log  *os.File
	off  int64
	size int64  // the file's reserved size
	next uint64 // hold ids handed out
	buf  []byte // the record being written (under mu)
}

// newFloorServer creates (or reuses) dir/floor.log, reserved to size bytes.
func newFloorServer(dir, token string, size int64) (*floorServer, error) {
	f, err := os.OpenFile(filepath.Join(dir, "floor.log"), os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, err
	}
	if err := syscall.Fallocate(int(f.Fd()), 0, 0, size); err != nil {
		f.Close()
		return nil, fmt.Errorf("reserve %d bytes for %s: %w", size, f.Name(), err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return nil, err
	}
	return &floorServer{token: []byte("Bearer " + token), log: f, size: size}, nil
}

func (s *floorServer) Close() error { return s.log.Close() }

// floorReady answers 200 once the server takes connections (no token, as
// the shard's /readyz).
const floorReady = "/readyz"

func (s *floorServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path == floorReady && r.Method == http.MethodGet {
		return
	}
	if r.URL.Path != shardapi.PathBatch || r.Method != http.MethodPost {
		floorError(w, shardapi.CodeNotFound, "the floor answers POST "+shardapi.PathBatch+" (and GET "+floorReady+") only")
		return
	}
	if subtle.ConstantTimeCompare([]byte(r.Header.Get("Authorization")), s.token) != 1 {
		floorError(w, shardapi.CodeUnauthorized, "missing or wrong bearer token")
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, shardapi.MaxBatchBytes+1))
	if err != nil {
		return // the client went away
	}
	if len(body) > shardapi.MaxBatchBytes {
		floorError(w, shardapi.CodePayloadTooLarge, "the batch is over "+strconv.Itoa(shardapi.MaxBatchBytes)+" bytes")
		return
	}
	ops, ok := shardapi.DecodeBatchRequestFast(body, nil)
	if !ok || len(ops) == 0 || len(ops) > shardapi.MaxBatchOps {
		floorError(w, shardapi.CodeInvalidRequest, "ops: want 1-"+strconv.Itoa(shardapi.MaxBatchOps)+" operations spelled as the contract writes them")
		return
	}
	first, err := s.write(body, len(ops))
	if err != nil {
		w.WriteHeader(http.StatusInternalServerError) // no contract code: the disk failed
		fmt.Fprintf(w, "log write: %v\n", err)
		return
	}
	out := floorAnswer(make([]byte, 0, 64+160*len(ops)), ops, first)
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(len(out)))
	w.Write(out)
}

// write puts one record (the body's length, then the body) on disk and
// gives the first of n hold ids for the batch. The file wraps around at its
// end: nothing ever reads it back.
func (s *floorServer) write(body []byte, n int) (uint64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.buf = binary.LittleEndian.AppendUint32(s.buf[:0], uint32(len(body)))
	s.buf = append(s.buf, body...)
	if s.off+int64(len(s.buf)) > s.size {
		s.off = 0
	}
	if _, err := s.log.WriteAt(s.buf, s.off); err != nil {
		return 0, err
	}
	if err := syscall.Fdatasync(int(s.log.Fd())); err != nil {
		return 0, err
	}
	s.off += int64(len(s.buf))
	first := s.next + 1
	s.next += uint64(n)
	return first, nil
}

// floorAnswer is the batch answer: every hold created (201) with the next
// id, every confirm sold and every release released (200), anything else
// refused as the shard refuses an unknown operation.
func floorAnswer(b []byte, ops []shardapi.BatchOp, first uint64) []byte {
	b = append(b, `{"results":[`...)
	for i, op := range ops {
		if i > 0 {
			b = append(b, ',')
		}
		id, state, status := op.Hold, "", http.StatusOK
		switch op.Op {
		case shardapi.BatchHold:
			id, state, status = "f"+strconv.FormatUint(first+uint64(i), 10), shardapi.HoldHeld, http.StatusCreated
		case shardapi.BatchConfirm:
			state = shardapi.HoldSold
		case shardapi.BatchRelease:
			state = shardapi.HoldReleased
		default:
			b = append(b, `{"status":400,"body":{"error":"invalid_request","message":"the floor takes hold, confirm and release only","seats":[]}}`...)
			continue
		}
		b = append(b, `{"status":`...)
		b = strconv.AppendInt(b, int64(status), 10)
		b = append(b, `,"body":{"id":`...)
		b, _ = jsontext.AppendQuote(b, id)
		b = append(b, `,"seats":[`...)
		for j, seat := range op.Seats {
			if j > 0 {
				b = append(b, ',')
			}
			b, _ = jsontext.AppendQuote(b, seat)
		}
		b = append(b, `],"holder":`...)
		b, _ = jsontext.AppendQuote(b, op.Holder)
		b = append(b, `,"state":`...)
		b, _ = jsontext.AppendQuote(b, state)
		b = append(b, `,"orderId":`...)
		b, _ = jsontext.AppendQuote(b, op.OrderID)
		b = append(b, `}}`...)
	}
	return append(b, `]}`...)
}

// floorError answers an error as the contract spells one.
func floorError(w http.ResponseWriter, code shardapi.Code, msg string) {
	b, _ := jsontext.AppendQuote([]byte(`{"error":"`+string(code)+`","message":`), msg)
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code.HTTPStatus())
	w.Write(append(b, `,"seats":[]}`...))
}

// cmdFloorServe runs a floor server on -listen until SIGTERM or SIGINT.
func cmdFloorServe(args []string) error {
	fs := flag.NewFlagSet("floor-serve", flag.ExitOnError)
	listen := fs.String("listen", "127.0.0.1:0", "address to listen on (loopback)")
	dir := fs.String("dir", "", "directory for the log file (required)")
	tokenFile := fs.String("token-file", "", "bearer token file (required)")
	fs.Parse(args)
	if *dir == "" || *tokenFile == "" {
		return errors.New("-dir and -token-file are required")
	}
	tok, err := os.ReadFile(*tokenFile)
	if err != nil {
		return err
	}
	s, err := newFloorServer(*dir, strings.TrimSpace(string(tok)), floorLogBytes)
	if err != nil {
		return err
	}
	defer s.Close()
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		return err
	}
	hs := &http.Server{Handler: s, ReadHeaderTimeout: 10 * time.Second}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	go func() {
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		hs.Shutdown(sctx)
	}()
	if err := hs.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// startFloor starts a floor server as a child process (its own runtime and
// scheduler, as a shard has; testproc: it dies with the generator) with its
// log and token in dir, on cpus if set, and waits until it answers. It
// gives the process, its base URL and its token file.
func startFloor(ctx context.Context, dir, cpus string) (*testproc.Proc, string, string, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, "", "", err
	}
	tokenFile := filepath.Join(dir, "token")
	if err := writeToken(tokenFile); err != nil {
		return nil, "", "", err
	}
	addr, err := testproc.FreeAddr()
	if err != nil {
		return nil, "", "", err
	}
	self, err := os.Executable()
	if err != nil {
		return nil, "", "", err
	}
	argv := []string{self, "floor-serve", "-dir", dir, "-token-file", tokenFile, "-listen", addr}
	if cpus != "" {
		argv = append([]string{"taskset", "-c", cpus}, argv...) // taskset execs it: the pid stays the server's
	}
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	proc, err := testproc.Start(cmd)
	if err != nil {
		return nil, "", "", err
	}
	url := "http://" + addr
	if err := (testproc.Poll{Exited: proc.Done()}).WaitHTTP(ctx, url+floorReady, http.StatusOK); err != nil {
		proc.Kill()
		return nil, "", "", fmt.Errorf("floor server: %w", err)
	}
	return proc, url, tokenFile, nil
}
