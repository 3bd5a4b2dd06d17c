package shard_test

import (
	"bufio"
	"bytes"
	bin "encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"boxoffice.dev/boxoffice/internal/testproc"
	"boxoffice.dev/boxoffice/internal/testvol"
)

var binary string

// TestMain builds the real binary once; the durability tests run it.
func TestMain(m *testing.M) {
	tmp, err := os.MkdirTemp("", "boxoffice-shard-test")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	root, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		fmt.Fprintln(os.Stderr, "go env GOMOD:", err)
		os.Exit(1)
	}
	binary = filepath.Join(tmp, "boxoffice")
	build := exec.Command("go", "build", "-o", binary, "./cmd/boxoffice")
	build.Dir = filepath.Dir(strings.TrimSpace(string(root)))
	if out, err := build.CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "building the binary: %v\n%s", err, out)
		os.RemoveAll(tmp)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(tmp)
	os.Exit(code)
}

const seatMap = `sections:
- name: stalls
  rows:
  - {names: "A-J", seats: "1-20"}
`

// proc is a running shard binary; its log is its stderr, kept in memory.
type proc struct {
	*testproc.Proc
	t      *testing.T
	addr   string
	mu     sync.Mutex
	stderr bytes.Buffer
	logged chan struct{} // closed when all of stderr is in
}

// logs is the log so far; once the process has exited, all of it.
func (p *proc) logs() string {
	select {
	case <-p.Done():
		<-p.logged
	default:
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.stderr.String()
}

func writeFiles(t *testing.T) (mapFile, tokenFile string) {
	dir := t.TempDir()
	mapFile, tokenFile = filepath.Join(dir, "map.yaml"), filepath.Join(dir, "token")
	os.WriteFile(mapFile, []byte(seatMap), 0o644)
	os.WriteFile(tokenFile, []byte("tok\n"), 0o600)
	return
}

// launch starts the binary and waits for "listening" (not for readiness).
func launch(t *testing.T, dataDir, mapFile, tokenFile string, extra ...string) *proc {
	t.Helper()
	args := append([]string{"shard", "--showtime", "venues/durable", "--seat-map", mapFile, "--data-dir", dataDir,
		"--listen", "127.0.0.1:0", "--token-file", tokenFile}, extra...)
	p := &proc{t: t, logged: make(chan struct{})}
	addr := make(chan string, 1)
	pr, pw := io.Pipe()
	cmd := exec.Command(binary, args...)
	cmd.Stderr = pw
	go p.scanLog(pr, addr)
	var err error
	if p.Proc, err = testproc.Start(cmd); err != nil {
		t.Fatal(err)
	}
	go func() { <-p.Done(); pw.Close() }()
	t.Cleanup(p.Kill)
	select {
	case p.addr = <-addr:
	case <-p.Done():
		return p
	case <-time.After(30 * time.Second):
		t.Fatalf("the shard did not start listening:\n%s", p.logs())
	}
	return p
}

// scanLog keeps the log and sends the address of its "listening" line.
func (p *proc) scanLog(r io.Reader, addr chan<- string) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		p.mu.Lock()
		p.stderr.WriteString(line + "\n")
		p.mu.Unlock()
		var rec struct{ Msg, Addr string }
		if json.Unmarshal([]byte(line), &rec) == nil && rec.Msg == "listening" {
			select {
			case addr <- rec.Addr:
			default:
			}
		}
	}
	_, _ = io.Copy(io.Discard, r) // a line too long: keep the child unblocked
	close(p.logged)
}

func (p *proc) waitReady() {
	p.t.Helper()
	err := testproc.Poll{Interval: 10 * time.Millisecond, Exited: p.Done()}.WaitHTTPFor("http://"+p.addr+"/readyz", http.StatusOK, 30*time.Second)
	if errors.Is(err, testproc.ErrExited) {
		p.t.Fatalf("the shard exited: %v\n%s", p.Err(), p.logs())
	}
	if err != nil {
		p.t.Fatalf("not ready after 30s: %v\n%s", err, p.logs())
	}
}

func (p *proc) call(method, path, body string) (int, map[string]any, error) {
	return p.callTimeout(method, path, body, nil, 10*time.Second)
}

// callTimeout sends a request with the test token and extra headers and
// decodes the JSON answer.
func (p *proc) callTimeout(method, path, body string, hdr map[string]string, timeout time.Duration) (int, map[string]any, error) {
	req, _ := http.NewRequest(method, "http://"+p.addr+path, strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer tok")
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	cl := &http.Client{Timeout: timeout}
	resp, err := cl.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return 0, nil, err
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		return resp.StatusCode, nil, fmt.Errorf("not JSON (%d): %q", resp.StatusCode, b)
	}
	return resp.StatusCode, m, nil
}

func (p *proc) kill() { p.Kill() }

// track is what the clients know: for each hold, the states it may be in.
type track struct {
	mu    sync.Mutex
	holds map[string]*known
}

type known struct {
	seats   []string
	acked   string   // state after the last acknowledged operation
	pending []string // states an unacknowledged (in-flight) operation may have left
}

func (tr *track) allowed(id string) []string {
	k := tr.holds[id]
	return append([]string{k.acked}, k.pending...)
}

// TestDurabilityUnderSIGKILL drives concurrent writes against the real binary,
// kills it at random moments and restarts it on the same data directory, 22
// times: every acknowledged write survives, no seat is in two live holds, the
// epoch increases on every start.
func TestDurabilityUnderSIGKILL(t *testing.T) {
	mapFile, tokenFile := writeFiles(t)
	dataDir := filepath.Join(t.TempDir(), "data")
	rng := rand.New(rand.NewPCG(42, uint64(time.Now().UnixNano())))
	tr := &track{holds: map[string]*known{}}
	prevEpoch := 0.0
	const rounds = 22
	for round := 0; round < rounds; round++ {
		extra := []string{"--snapshot-every", strconv.Itoa(50 + rng.IntN(400))}
		p := launch(t, dataDir, mapFile, tokenFile, extra...)
		p.waitReady()
		_, st, err := p.call("GET", "/v1/status", "")
		if err != nil {
			t.Fatal(err)
		}
		if ep := st["epoch"].(float64); ep <= prevEpoch {
			t.Fatalf("round %d: epoch %v after %v", round, ep, prevEpoch)
		} else {
			prevEpoch = ep
		}
		verify(t, p, tr, round, round == rounds-1 || round%5 == 0)

		// Load, then SIGKILL at a random moment.
		stop := make(chan struct{})
		var wg sync.WaitGroup
		for c := 0; c < 6; c++ {
			wg.Add(1)
			go func(c int) {
				defer wg.Done()
				load(p, tr, rand.New(rand.NewPCG(uint64(round), uint64(c))), fmt.Sprintf("r%dc%d", round, c), stop)
			}(c)
		}
		time.Sleep(time.Duration(20+rng.IntN(250)) * time.Millisecond)
		if round == rounds-1 {
			// The last round stops with SIGTERM: clean exit, nothing lost.
			p.Signal(syscall.SIGTERM)
			select {
			case <-p.Done():
			case <-time.After(30 * time.Second):
				t.Fatal("no exit 30s after SIGTERM")
			}
			if p.Err() != nil {
				t.Fatalf("exit after SIGTERM: %v\n%s", p.Err(), p.logs())
			}
		} else {
			p.kill()
		}
		close(stop)
		wg.Wait()
	}
	p := launch(t, dataDir, mapFile, tokenFile)
	p.waitReady()
	verify(t, p, tr, rounds, true)
	if !strings.Contains(p.logs(), `"msg":"recovered"`) {
		t.Fatalf("no recovery log line:\n%s", p.logs())
	}
}

// load runs one client until it is stopped or its shard dies.
func load(p *proc, tr *track, rng *rand.Rand, name string, stop chan struct{}) {
	var mine []string
	for i := 0; i < 400; i++ {
		select {
		case <-stop:
			return
		default:
		}
		if len(mine) == 0 || rng.IntN(3) == 0 {
			var seats []string
			for n := 1 + rng.IntN(3); len(seats) < n; {
				s := fmt.Sprintf("stalls/%c/%d", 'A'+rng.IntN(10), 1+rng.IntN(20))
				if !contains(seats, s) {
					seats = append(seats, s)
				}
			}
			body, _ := json.Marshal(map[string]any{"seats": seats, "holder": fmt.Sprintf("%s-%d", name, i)})
			code, m, err := p.call("POST", "/v1/holds", string(body))
			if err != nil {
				return // killed: an unacknowledged hold may or may not exist; ids are unknown
			}
			if code == 201 {
				id := m["id"].(string)
				tr.mu.Lock()
				tr.holds[id] = &known{seats: seats, acked: "held"}
				tr.mu.Unlock()
				mine = append(mine, id)
			}
			continue
		}
		id := mine[rng.IntN(len(mine))]
		var method, path, body, next string
		switch rng.IntN(3) {
		case 0:
			method, path, next = "DELETE", "/v1/holds/"+id, "released"
		case 1:
			method, path, body, next = "POST", "/v1/holds/"+id+"/confirm", `{"orderId":"order-`+id+`"}`, "sold"
		default:
			method, path, body, next = "POST", "/v1/holds/"+id+"/await-payment", `{"ttlSeconds":3600}`, "awaiting_payment"
		}
		tr.mu.Lock()
		k := tr.holds[id]
		final := k.acked == "sold" || k.acked == "released"
		if !final {
			k.pending = append(k.pending, next)
		}
		tr.mu.Unlock()
		code, m, err := p.call(method, path, body)
		if err != nil {
			return // stays pending: it may have been applied
		}
		tr.mu.Lock()
		if code == 200 {
			k.acked = m["state"].(string)
			k.pending = nil
		} else if !final {
			k.pending = k.pending[:len(k.pending)-1]
		}
		tr.mu.Unlock()
	}
}

func contains(s []string, v string) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}

// verify checks every acknowledged hold (all of them when full, otherwise
// a sample) and, when full, that live holds own disjoint seats matching the
// seat list.
func verify(t *testing.T, p *proc, tr *track, round int, full bool) {
	t.Helper()
	tr.mu.Lock()
	defer tr.mu.Unlock()
	n := 0
	for id := range tr.holds {
		if !full && n > 150 {
			break
		}
		n++
		code, m, err := p.call("GET", "/v1/holds/"+id, "")
		if err != nil {
			t.Fatal(err)
		}
		if code != 200 {
			t.Fatalf("round %d: acknowledged hold %s: %d %v", round, id, code, m)
		}
		if st := m["state"].(string); !contains(tr.allowed(id), st) {
			t.Fatalf("round %d: hold %s is %s, acknowledged %s (pending %v)", round, id, st, tr.holds[id].acked, tr.holds[id].pending)
		} else {
			// What the shard says now is durable from here on.
			tr.holds[id].acked, tr.holds[id].pending = st, nil
		}
	}
	if !full {
		return
	}
	_, all, err := p.call("GET", "/v1/seats", "")
	if err != nil {
		t.Fatal(err)
	}
	state := map[string]string{}
	for _, s := range all["seats"].([]any) {
		m := s.(map[string]any)
		state[m["id"].(string)] = m["state"].(string)
	}
	// Every hold that exists: acknowledged ones, and unacknowledged ones a
	// kill left on disk (their ids are at most a few above the highest id
	// the clients saw). Fetched by 8 workers.
	maxID := 0
	for id := range tr.holds {
		n, _ := strconv.Atoi(id[1:])
		maxID = max(maxID, n)
	}
	maxID += 64
	type fetched struct {
		code int
		m    map[string]any
		err  error
	}
	got := make([]fetched, maxID+1)
	ids := make(chan int)
	var wg sync.WaitGroup
	for w := 0; w < 8; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range ids {
				code, m, err := p.call("GET", "/v1/holds/h"+strconv.Itoa(i), "")
				got[i] = fetched{code, m, err}
			}
		}()
	}
	for i := 1; i <= maxID; i++ {
		ids <- i
	}
	close(ids)
	wg.Wait()
	owner := map[string]string{}
	for i := 1; i <= maxID; i++ {
		f := got[i]
		if f.err != nil {
			t.Fatal(f.err)
		}
		if f.code == 404 {
			continue
		}
		if i > maxID-8 {
			t.Fatalf("round %d: hold h%d exists, far above every id the clients saw", round, i)
		}
		id, m := "h"+strconv.Itoa(i), f.m
		st := m["state"].(string)
		if st != "held" && st != "awaiting_payment" && st != "sold" {
			continue
		}
		for _, s := range m["seats"].([]any) {
			seat := s.(string)
			if prev, dup := owner[seat]; dup {
				t.Fatalf("round %d: seat %s in live holds %s and %s", round, seat, prev, id)
			}
			owner[seat] = id
			if state[seat] != st {
				t.Fatalf("round %d: hold %s is %s, its seat %s is %s", round, id, st, seat, state[seat])
			}
		}
	}
	for seat, st := range state {
		if _, ok := owner[seat]; st != "free" && !ok {
			t.Fatalf("round %d: seat %s is %s without a live hold", round, seat, st)
		}
	}
}

// TestTornTailAndCorruptionWithBinary damages the log files of a killed shard:
// a torn last record is truncated with a log line; a damaged record before the
// tail stops the shard with an error naming the file and the offset.
func TestTornTailAndCorruptionWithBinary(t *testing.T) {
	mapFile, tokenFile := writeFiles(t)
	dataDir := filepath.Join(t.TempDir(), "data")
	p := launch(t, dataDir, mapFile, tokenFile)
	p.waitReady()
	for i := 1; i <= 10; i++ {
		if code, m, err := p.call("POST", "/v1/holds", fmt.Sprintf(`{"seats":["stalls/A/%d"],"holder":"h%d"}`, i, i)); err != nil || code != 201 {
			t.Fatalf("%d %v %v", code, m, err)
		}
	}
	p.kill()
	segs, _ := filepath.Glob(filepath.Join(dataDir, "wal-*.log"))
	seg := segs[len(segs)-1]
	good, _ := os.ReadFile(seg)
	w := writtenLen(good) // the segment's space is reserved: records end before its size

	// Torn tail: a record after the last one whose group was never fully
	// written: its first sector is on disk, the next one never was (zeros).
	os.WriteFile(seg, tornRecordAt(good, w), 0o644)
	p = launch(t, dataDir, mapFile, tokenFile)
	p.waitReady()
	if !strings.Contains(p.logs(), "truncating torn tail") || strings.Contains(p.logs(), "MAY HAVE BEEN") {
		t.Fatalf("no torn-tail log line:\n%s", p.logs())
	}
	if code, _, _ := p.call("GET", "/v1/holds/h10", ""); code != 200 {
		t.Fatal("acknowledged hold lost after torn tail")
	}
	p.kill()

	// Corruption: flip a byte inside the 3rd record of the same segment (no longer the newest).
	b, _ := os.ReadFile(seg)
	off := 64 + 2*(w-64)/10
	b[off+20] ^= 0xff
	os.WriteFile(seg, b, 0o644)
	p = launch(t, dataDir, mapFile, tokenFile)
	select {
	case <-p.Done():
	case <-time.After(30 * time.Second):
		t.Fatal("a corrupt log did not stop the shard")
	}
	logs := p.logs()
	if p.Err() == nil || !strings.Contains(logs, filepath.Base(seg)) || !strings.Contains(logs, "offset") {
		t.Fatalf("want a refusal naming %s and an offset, got %v:\n%s", filepath.Base(seg), p.Err(), logs)
	}
}

func TestBadFlagsAndSeatMap(t *testing.T) {
	mapFile, tokenFile := writeFiles(t)
	bad := filepath.Join(t.TempDir(), "bad.yaml")
	os.WriteFile(bad, []byte("sections:\n- name: stalls\n  rows:\n  - {names: \"H-A\", seats: \"1-3\"}\n"), 0o644)
	cases := []struct {
		args []string
		env  []string
		want string
		code int
	}{
		{[]string{"--seat-map", mapFile, "--data-dir", t.TempDir(), "--token-file", tokenFile}, nil, "--showtime is required", 2},
		{[]string{"--showtime", "a/b", "--seat-map", mapFile, "--data-dir", t.TempDir()}, nil, "--token-file is required", 2},
		{[]string{"--showtime", "a/b", "--seat-map", bad, "--data-dir", t.TempDir(), "--auth", "none"}, nil, "runs backwards", 1},
		{[]string{"--showtime", "a/b", "--seat-map", mapFile, "--data-dir", t.TempDir(), "--auth", "none"}, []string{"BOXOFFICE_SHARD_HOLD_TTL=3h"}, "longer than --max-hold-ttl", 2},
		{[]string{"--showtime", "a/b", "--seat-map", mapFile, "--data-dir", t.TempDir(), "--auth", "none"}, []string{"BOXOFFICE_SHARD_MAX_SEATS_PER_HOLDER=lots"}, "BOXOFFICE_SHARD_MAX_SEATS_PER_HOLDER", 2},
	}
	for _, c := range cases {
		cmd := exec.Command(binary, append([]string{"shard", "--listen", "127.0.0.1:0"}, c.args...)...)
		cmd.Env = append(os.Environ(), c.env...)
		out, err := cmd.CombinedOutput()
		ee, ok := err.(*exec.ExitError)
		if !ok || ee.ExitCode() != c.code || !strings.Contains(string(out), c.want) {
			t.Fatalf("%v %v: exit %v, want %d and %q in:\n%s", c.args, c.env, err, c.code, c.want, out)
		}
	}
}

// writtenLen is the end of the last record in a segment file (the space after
// it, reserved when the segment was made, reads as zeros).
func writtenLen(b []byte) int {
	off := 64 // segment header
	for off+12 <= len(b) {
		n := int(bin.LittleEndian.Uint32(b[off:]))
		if n == 0 && bin.LittleEndian.Uint64(b[off+4:]) == 0 {
			break
		}
		off += 12 + n
	}
	return min(off, len(b))
}

// tornRecordAt returns seg with a record begun at w (the end of the written
// records) that crosses a sector boundary: its header (valid) and the bytes
// up to the boundary are written, the sector after it never was.
func tornRecordAt(seg []byte, w int) []byte {
	b := bytes.Clone(seg)
	boundary := (w + 12 + 511) &^ 511
	if boundary-w < 16 {
		boundary += 512
	}
	if len(b) < boundary+512 {
		b = append(b, make([]byte, boundary+512-len(b))...)
	}
	n := boundary - w - 12 + 100 // the payload runs 100 bytes into the unwritten sector
	bin.LittleEndian.PutUint32(b[w:], uint32(n))
	bin.LittleEndian.PutUint32(b[w+4:], 0x12345678) // the checksum of a payload never written whole
	bin.LittleEndian.PutUint32(b[w+8:], crc32.Checksum(b[w:w+8], crc32.MakeTable(crc32.Castagnoli)))
	for i := w + 12; i < boundary; i++ {
		b[i] = 0xab
	}
	clear(b[boundary:])
	return b
}

// TestDamagedLastRecordWithBinary: a bit flip in the last acknowledged record
// is not passed off as a torn write: the shard starts without it, says it may
// have been acknowledged, counts it and reports it in /v1/status, also after
// another restart.
func TestDamagedLastRecordWithBinary(t *testing.T) {
	mapFile, tokenFile := writeFiles(t)
	dataDir := filepath.Join(t.TempDir(), "data")
	p := launch(t, dataDir, mapFile, tokenFile)
	p.waitReady()
	for i := 1; i <= 5; i++ {
		if code, m, err := p.call("POST", "/v1/holds", fmt.Sprintf(`{"seats":["stalls/A/%d"],"holder":"h%d"}`, i, i)); err != nil || code != 201 {
			t.Fatalf("%d %v %v", code, m, err)
		}
	}
	p.kill()
	segs, _ := filepath.Glob(filepath.Join(dataDir, "wal-*.log"))
	seg := segs[len(segs)-1]
	b, _ := os.ReadFile(seg)
	b[writtenLen(b)-3] ^= 0x08 // inside the last record (h5)
	os.WriteFile(seg, b, 0o644)
	for round := 0; round < 2; round++ {
		p = launch(t, dataDir, mapFile, tokenFile)
		p.waitReady()
		if round == 0 && (!strings.Contains(p.logs(), "MAY HAVE BEEN ACKNOWLEDGED") || strings.Contains(p.logs(), "never acknowledged")) {
			t.Fatalf("the log does not tell the truth:\n%s", p.logs())
		}
		code, st, err := p.call("GET", "/v1/status", "")
		if err != nil || code != 200 {
			t.Fatalf("status: %d %v", code, err)
		}
		w, _ := st["logWarnings"].([]any)
		if len(w) != 1 || !strings.Contains(fmt.Sprint(w[0]), filepath.Base(seg)) {
			t.Fatalf("round %d: status does not report the damage: %v", round, st)
		}
		if code, _, _ := p.call("GET", "/v1/holds/h4", ""); code != 200 {
			t.Fatalf("round %d: h4 lost", round)
		}
		p.kill()
	}
}

// TestTornHeaderWithBinary: a newest segment cut to its header or less is
// damage (segments are created whole): the shard refuses to start, names the
// file and says how to recover, and deletes nothing.
func TestTornHeaderWithBinary(t *testing.T) {
	mapFile, tokenFile := writeFiles(t)
	dataDir := filepath.Join(t.TempDir(), "data")
	p := launch(t, dataDir, mapFile, tokenFile)
	p.waitReady()
	if code, _, err := p.call("POST", "/v1/holds", `{"seats":["stalls/A/1"],"holder":"h1"}`); err != nil || code != 201 {
		t.Fatal(code, err)
	}
	p.kill()
	segs, _ := filepath.Glob(filepath.Join(dataDir, "wal-*.log"))
	seg := segs[len(segs)-1]
	for _, size := range []int64{0, 64} {
		os.Truncate(seg, size)
		p = launch(t, dataDir, mapFile, tokenFile)
		select {
		case <-p.Done():
		case <-time.After(30 * time.Second):
			t.Fatalf("%d-byte segment: the shard did not refuse to start", size)
		}
		ee, ok := p.Err().(*exec.ExitError)
		if !ok || ee.ExitCode() != 1 || !strings.Contains(p.logs(), seg) || !strings.Contains(p.logs(), "restore the data directory") {
			t.Fatalf("%d-byte segment: want exit 1 naming %s and how to recover, got %v:\n%s", size, seg, p.Err(), p.logs())
		}
		if st, err := os.Stat(seg); err != nil || st.Size() != size {
			t.Fatalf("the damaged segment was removed or changed: %v", err)
		}
	}
}

// TestSIGTERMWithFullDisk: when the volume is full the final snapshot fails;
// the shard then exits non-zero and does not log "stopped cleanly", and the
// next start (with space again) replays the log.
func TestSIGTERMWithFullDisk(t *testing.T) {
	mnt := testvol.Small(t, 32<<20)
	mapFile, tokenFile := writeFiles(t)
	dataDir := filepath.Join(mnt, "data")
	p := launch(t, dataDir, mapFile, tokenFile)
	p.waitReady()
	for i := 1; i <= 5; i++ {
		if code, m, err := p.call("POST", "/v1/holds", fmt.Sprintf(`{"seats":["stalls/B/%d"],"holder":"h%d"}`, i, i)); err != nil || code != 201 {
			t.Fatalf("%d %v %v", code, m, err)
		}
	}
	filler := testvol.Fill(t, mnt, 0)
	p.Signal(syscall.SIGTERM)
	select {
	case <-p.Done():
	case <-time.After(30 * time.Second):
		t.Fatal("no exit after SIGTERM")
	}
	if p.Err() == nil || strings.Contains(p.logs(), "stopped cleanly") || !strings.Contains(p.logs(), "final snapshot") {
		t.Fatalf("a stop without its final snapshot passed for clean: %v\n%s", p.Err(), p.logs())
	}
	os.Remove(filler)
	p = launch(t, dataDir, mapFile, tokenFile)
	p.waitReady()
	if code, st, _ := p.call("GET", "/v1/status", ""); code != 200 || st["counts"].(map[string]any)["held"] != 5.0 {
		t.Fatalf("after restart: %d %v", code, st)
	}
}
