// The admission benchmark's load generator for the fixed-rate latency runs, in Go's standard library only
// (no go.sum, nothing to download; built and cached as bench/go-floor is, by bench/go-servers.ts).
//
// Why not the Node client: at 1,000 requests a second its own event loop stalled for 31-104 ms in every
// phase, pinned or not, so every server, the do-nothing Go server included, showed a p99 of 30-100 ms and
// the tail targets of issue 21 could not be judged. Here no garbage collection runs during a run, the
// schedule sleeps in nanosleep(2) on a thread of its own, and the client's own lateness is measured and
// printed, so a reader sees the client's tail beside the servers'. The benchmark starts it on the load
// generator's CPU and, where allowed, under the real-time policy (bench/pinning.ts says why).
//
// What it does, as the API server calls a webhook: POSTs over HTTP/1.1-over-TLS keep-alive connections,
// one request at a time on each, `-open` of them opened before the run and more (up to `-connections`)
// when a request finds none free; a connection the server closed is dropped and replaced. Open loop: the
// i-th request is due at start + i/rate whatever happened to the ones before it, and its latency runs from
// that due time to the last byte of its answer, so neither a stalled client nor a stalled server can hide
// a delay (no coordinated omission). The bodies come from a file, one per line, sent in turn.
//
// The client's lag: for each request, how late the schedule handed it out (dispatched - due) plus how
// long the client took to write it once a connection was free for it (written - ready, where ready is the
// dispatch when a connection was idle, else the moment one came free). Waiting for a connection is left
// out: that is the server's delay, and it is in the latency already. It covers the sending side; the
// answers are read by goroutines of the same small process, which has nothing else to do.
//
// Every answer is checked as the Node client checks it: status 200 and "allowed":true; with -role, also a
// patch whose base64 text names AWS_ROLE_ARN and the role. A wrong answer is counted, not measured; a
// request that got no answer (a failed connection, -timeout passed) is an error.
//
// Usage: go-loadgen -port N -ca FILE -bodies FILE [-rate 1000] [-duration 10s] [-warmup 0s] [-role ARN]
// [-connections 25] [-open 8] [-timeout 10s] [-path /mutate?timeout=10s]. It prints one JSON line (the
// fields of `report`) and exits 0 once every request has settled; 2 for a bad command line, 1 when it
// cannot start (no connection could be opened, a file is unreadable).
package main

import (
	"bufio"
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"math"
	"net"
	"net/http"
	"os"
	"runtime"
	"runtime/debug"
	"slices"
	"strings"
	"sync"
	"time"
)

// How a request ended.
const (
	unsettled = iota
	right
	wrong
	failed
)

type job struct {
	index      int
	due        time.Time
	dispatched time.Time
}

type conn struct {
	tls     *tls.Conn
	reader  *bufio.Reader
	body    []byte
	decoded []byte
	// Guarded by run.mu: whether a request is on it, and which one.
	busy    bool
	current job
}

type run struct {
	address     string
	tlsConfig   *tls.Config
	requests    [][]byte
	role        []byte
	timeout     time.Duration
	connections int
	warmups     int
	total       int

	// One entry per request, each written only by whoever settles (or writes) that request; read after
	// settled.Wait().
	outcome  []uint8
	latency  []time.Duration
	lag      []time.Duration
	finished []time.Time
	settled  sync.WaitGroup

	mu      sync.Mutex
	idle    []*conn // last in, first out, as the API server's client picks idle connections
	waiting []job   // requests due with no connection free, oldest first
	live    int
	dialing int
	opened  int
	dropped int
	waited  int
	// The first reason of each kind, for the report.
	firstWrong string
	firstError string
}

// report is the JSON line printed at the end. Count, right, latency, lag and the rate cover the measured
// requests; wrong and errors cover the warm-up too, since any wrong answer spoils the run. Figures in ms,
// null when there was nothing to measure.
type report struct {
	Scheduled   int      `json:"scheduled"`
	Count       int      `json:"count"`
	Right       int      `json:"right"`
	Wrong       int      `json:"wrong"`
	Errors      int      `json:"errors"`
	WarmupCount int      `json:"warmupScheduled"`
	P50         *float64 `json:"p50Ms"`
	P99         *float64 `json:"p99Ms"`
	P999        *float64 `json:"p999Ms"`
	Max         *float64 `json:"maxMs"`
	LagP50      *float64 `json:"lagP50Ms"`
	LagP99      *float64 `json:"lagP99Ms"`
	LagP999     *float64 `json:"lagP999Ms"`
	LagMax      *float64 `json:"lagMaxMs"`
	Achieved    float64  `json:"achievedPerS"`
	Opened      int      `json:"connections"`
	Dropped     int      `json:"dropped"`
	Waited      int      `json:"waitedForConnection"`
	GcCycles    uint32   `json:"gcCycles"`
	FirstWrong  string   `json:"firstWrong,omitempty"`
	FirstError  string   `json:"firstError,omitempty"`
}

func main() {
	port := flag.Int("port", 0, "the server's port on 127.0.0.1")
	caFile := flag.String("ca", "", "PEM file of the CA the server's certificate chains to")
	serverName := flag.String("servername", "localhost", "the name the server's certificate is checked for")
	bodiesFile := flag.String("bodies", "", "file of request bodies, one per line, sent in turn")
	path := flag.String("path", "/mutate?timeout=10s", "the request path")
	rate := flag.Float64("rate", 1000, "requests per second")
	duration := flag.Duration("duration", 10*time.Second, "how long the measured run lasts")
	warmup := flag.Duration("warmup", 0, "a run at the same rate before the measured one, checked, not measured")
	role := flag.String("role", "", "the role ARN every answer's patch must give (none: no patch needed)")
	connections := flag.Int("connections", 25, "the most connections open at once")
	open := flag.Int("open", 8, "connections opened before the run")
	timeout := flag.Duration("timeout", 10*time.Second, "an answer later than this fails its request")
	flag.Parse()
	if *port <= 0 || *caFile == "" || *bodiesFile == "" || *rate <= 0 || *duration <= 0 || *warmup < 0 ||
		*connections < 1 || *open < 0 || *open > *connections || flag.NArg() > 0 {
		fmt.Fprintln(os.Stderr, "usage: go-loadgen -port N -ca FILE -bodies FILE [flags] (see -h)")
		os.Exit(2)
	}
	r, err := prepare(*port, *caFile, *serverName, *bodiesFile, *path, *role)
	if err != nil {
		fail(err)
	}
	r.timeout = *timeout
	r.connections = *connections
	r.warmups = int(math.Round(*rate * warmup.Seconds()))
	r.total = r.warmups + int(math.Round(*rate*duration.Seconds()))
	r.outcome = make([]uint8, r.total)
	r.latency = make([]time.Duration, r.total)
	r.lag = make([]time.Duration, r.total)
	r.finished = make([]time.Time, r.total)
	for i := range r.lag {
		r.lag[i] = -1 // never written
	}
	for range *open {
		c, err := r.connect()
		if err != nil {
			fail(fmt.Errorf("opening a connection to %s: %w", r.address, err))
		}
		r.live++
		r.opened++
		r.idle = append(r.idle, c)
		go r.read(c)
	}
	// Two threads at least, though pinned to one CPU: the schedule sleeps in a system call on its own
	// thread (see sleepUntil), and with a single P the runtime would hand that P to the readers only
	// after sysmon noticed, up to 10 ms later.
	if runtime.GOMAXPROCS(0) < 2 {
		runtime.GOMAXPROCS(2)
	}
	// No collection during the run: a few MB of garbage a second fits in memory for a benchmark's
	// minutes, and a collection's pauses and its share of the CPU would be the client's tail. The limit
	// brings the collector back only if the heap ever nears it.
	debug.SetGCPercent(-1)
	debug.SetMemoryLimit(1 << 30)
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	r.settled.Add(r.total)
	r.schedule(float64(time.Second) / *rate)
	r.settled.Wait()
	runtime.ReadMemStats(&after)
	out := r.report()
	out.GcCycles = after.NumGC - before.NumGC
	line, _ := json.Marshal(out)
	fmt.Println(string(line))
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "go-loadgen:", err)
	os.Exit(1)
}

// prepare reads the CA and the bodies and builds each request's bytes once.
func prepare(port int, caFile, serverName, bodiesFile, path, role string) (*run, error) {
	ca, err := os.ReadFile(caFile)
	if err != nil {
		return nil, err
	}
	roots := x509.NewCertPool()
	if !roots.AppendCertsFromPEM(ca) {
		return nil, fmt.Errorf("no certificate in %s", caFile)
	}
	text, err := os.ReadFile(bodiesFile)
	if err != nil {
		return nil, err
	}
	r := &run{
		address: fmt.Sprintf("127.0.0.1:%d", port),
		// HTTP/1.1 only (no ALPN offered), as the API server calls webhooks.
		tlsConfig: &tls.Config{RootCAs: roots, ServerName: serverName},
	}
	if role != "" {
		r.role = []byte(`"` + role + `"`)
	}
	for _, body := range strings.Split(string(text), "\n") {
		if strings.TrimSpace(body) == "" {
			continue
		}
		head := fmt.Sprintf(
			"POST %s HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n",
			path, len(body))
		r.requests = append(r.requests, []byte(head+body))
	}
	if len(r.requests) == 0 {
		return nil, fmt.Errorf("no body in %s", bodiesFile)
	}
	return r, nil
}

func (r *run) connect() (*conn, error) {
	dialer := &net.Dialer{Timeout: r.timeout}
	t, err := tls.DialWithDialer(dialer, "tcp", r.address, r.tlsConfig)
	if err != nil {
		return nil, err
	}
	return &conn{tls: t, reader: bufio.NewReaderSize(t, 64<<10)}, nil
}

// schedule hands out every request at its due time, on this goroutine's own thread.
func (r *run) schedule(period float64) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	preciseThread()
	start := time.Now().Add(time.Millisecond)
	for i := range r.total {
		due := start.Add(time.Duration(float64(i) * period))
		sleepUntil(due)
		r.dispatch(job{index: i, due: due, dispatched: time.Now()})
	}
}

// dispatch writes a due request on the last connection to come free, or queues it for the next one,
// opening another connection while fewer than the most are open.
func (r *run) dispatch(j job) {
	r.mu.Lock()
	if n := len(r.idle); n > 0 {
		c := r.idle[n-1]
		r.idle = r.idle[:n-1]
		c.busy, c.current = true, j
		r.mu.Unlock()
		r.send(c, j, j.dispatched)
		return
	}
	r.waiting = append(r.waiting, j)
	r.waited++
	dial := r.live+r.dialing < r.connections
	if dial {
		r.dialing++
	}
	r.mu.Unlock()
	if dial {
		go r.dial()
	}
}

// send writes request j on c, which the caller has marked busy with it; ready is when c was free for it.
func (r *run) send(c *conn, j job, ready time.Time) {
	written := time.Now()
	r.lag[j.index] = j.dispatched.Sub(j.due) + written.Sub(ready)
	_ = c.tls.SetReadDeadline(written.Add(r.timeout))
	if _, err := c.tls.Write(r.requests[j.index%len(r.requests)]); err != nil {
		// The reader's read fails next and settles the request.
		_ = c.tls.Close()
	}
}

// free gives c the oldest waiting request, or puts it back among the idle ones.
func (r *run) free(c *conn, at time.Time) {
	r.mu.Lock()
	if len(r.waiting) > 0 {
		j := r.waiting[0]
		r.waiting = r.waiting[1:]
		c.busy, c.current = true, j
		r.mu.Unlock()
		r.send(c, j, at)
		return
	}
	r.idle = append(r.idle, c)
	r.mu.Unlock()
}

// dial opens one more connection for the waiting requests. When none can be opened and none is open, the
// oldest waiting request fails, so a server that is gone ends the run instead of hanging it.
func (r *run) dial() {
	c, err := r.connect()
	r.mu.Lock()
	r.dialing--
	if err == nil {
		r.live++
		r.opened++
		r.mu.Unlock()
		// The reader starts after the first write, so what send recorded is visible to it.
		r.free(c, time.Now())
		go r.read(c)
		return
	}
	var lost *job
	again := false
	if r.live == 0 && r.dialing == 0 && len(r.waiting) > 0 {
		lost = &r.waiting[0]
		r.waiting = r.waiting[1:]
		if again = len(r.waiting) > 0; again {
			r.dialing++
		}
	}
	r.mu.Unlock()
	if lost != nil {
		r.settle(*lost, failed, time.Now(), "connecting: "+err.Error())
	}
	if again {
		go r.dial()
	}
}

// drop forgets a connection that is done for (r.mu held), and says whether to open another for the
// requests waiting.
func (r *run) drop(c *conn) bool {
	if at := slices.Index(r.idle, c); at >= 0 {
		r.idle = slices.Delete(r.idle, at, at+1)
	}
	r.live--
	r.dropped++
	if len(r.waiting) > 0 && r.live+r.dialing < r.connections {
		r.dialing++
		return true
	}
	return false
}

// read reads c's answers in turn until c fails or closes, settling each request.
func (r *run) read(c *conn) {
	for {
		answer, err := http.ReadResponse(c.reader, nil)
		keep := false
		status := 0
		if err == nil {
			status = answer.StatusCode
			keep = !answer.Close
			buffer := bytes.NewBuffer(c.body[:0])
			_, err = buffer.ReadFrom(answer.Body)
			_ = answer.Body.Close()
			c.body = buffer.Bytes()
		}
		at := time.Now()
		r.mu.Lock()
		j, busy := c.current, c.busy
		if err == nil && !busy {
			err = errors.New("an answer to no request")
		}
		if err != nil || !keep {
			again := r.drop(c)
			r.mu.Unlock()
			_ = c.tls.Close()
			if busy && err != nil {
				r.settle(j, failed, at, err.Error())
			} else if busy {
				r.settle(j, r.check(status, c), at, "")
			}
			if again {
				go r.dial()
			}
			return
		}
		c.busy = false
		r.mu.Unlock()
		_ = c.tls.SetReadDeadline(time.Time{})
		r.settle(j, r.check(status, c), at, "")
		r.free(c, time.Now())
	}
}

var (
	allowedText = []byte(`"allowed":true`)
	patchKey    = []byte(`"patch":"`)
	roleEnvName = []byte(`"AWS_ROLE_ARN"`)
)

// check judges the answer in c.body; a wrong one's reason is kept once.
func (r *run) check(status int, c *conn) uint8 {
	why := ""
	body := c.body
	switch {
	case status != http.StatusOK:
		why = fmt.Sprintf("status %d", status)
	case !bytes.Contains(body, allowedText):
		why = "the answer does not allow the pod"
	case r.role != nil:
		at := bytes.Index(body, patchKey)
		if at < 0 {
			why = "the answer has no patch"
			break
		}
		encoded := body[at+len(patchKey):]
		end := bytes.IndexByte(encoded, '"')
		if end < 0 {
			why = "the answer's patch is cut short"
			break
		}
		encoded = encoded[:end]
		c.decoded = slices.Grow(c.decoded[:0], base64.StdEncoding.DecodedLen(len(encoded)))
		n, err := base64.StdEncoding.Decode(c.decoded[:cap(c.decoded)], encoded)
		patch := c.decoded[:n]
		if err != nil {
			why = "the answer's patch is not base64"
		} else if !bytes.Contains(patch, roleEnvName) || !bytes.Contains(patch, r.role) {
			why = "the patch does not give the role"
		}
	}
	if why == "" {
		return right
	}
	r.mu.Lock()
	if r.firstWrong == "" {
		r.firstWrong = why
	}
	r.mu.Unlock()
	return wrong
}

func (r *run) settle(j job, outcome uint8, at time.Time, failure string) {
	r.outcome[j.index] = outcome
	r.latency[j.index] = at.Sub(j.due)
	r.finished[j.index] = at
	if failure != "" {
		r.mu.Lock()
		if r.firstError == "" {
			r.firstError = failure
		}
		r.mu.Unlock()
	}
	r.settled.Done()
}

// percentile as the Node client takes it: the value at floor(p% of n), the last one at most.
func percentile(sorted []time.Duration, p float64) *float64 {
	if len(sorted) == 0 {
		return nil
	}
	at := min(len(sorted)-1, int(math.Floor(p/100*float64(len(sorted)))))
	ms := float64(sorted[at]) / 1e6
	return &ms
}

func (r *run) report() report {
	out := report{
		Scheduled:   r.total - r.warmups,
		WarmupCount: r.warmups,
		Opened:      r.opened,
		Dropped:     r.dropped,
		Waited:      r.waited,
		FirstWrong:  r.firstWrong,
		FirstError:  r.firstError,
	}
	var latencies, lags []time.Duration
	var last time.Time
	for i := range r.total {
		switch r.outcome[i] {
		case wrong:
			out.Wrong++
		case failed:
			out.Errors++
		}
		if i < r.warmups {
			continue
		}
		if r.lag[i] >= 0 {
			lags = append(lags, r.lag[i])
		}
		if r.outcome[i] == right || r.outcome[i] == wrong {
			out.Count++
			if r.finished[i].After(last) {
				last = r.finished[i]
			}
		}
		if r.outcome[i] == right {
			out.Right++
			latencies = append(latencies, r.latency[i])
		}
	}
	slices.Sort(latencies)
	slices.Sort(lags)
	out.P50, out.P99, out.P999 = percentile(latencies, 50), percentile(latencies, 99), percentile(latencies, 99.9)
	out.Max = percentile(latencies, 100)
	out.LagP50, out.LagP99, out.LagP999 = percentile(lags, 50), percentile(lags, 99), percentile(lags, 99.9)
	out.LagMax = percentile(lags, 100)
	if out.Count > 0 && out.Scheduled > 0 {
		first := r.finished[r.warmups].Add(-r.latency[r.warmups]) // the first measured request's due time
		if spent := last.Sub(first).Seconds(); spent > 0 {
			out.Achieved = float64(out.Count) / spent
		}
	}
	return out
}
