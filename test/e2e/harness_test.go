package e2e

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// env holds what `make e2e` provides. Without KPL_E2E the tests skip; with
// it, anything missing is a failure.
type env struct {
	fluentBit string
	plugin    string
	tool      string
}

func setup(t *testing.T) env {
	t.Helper()
	if os.Getenv("KPL_E2E") == "" {
		t.Skip("end-to-end tests run with `make e2e` (set KPL_E2E=1, FLUENT_BIT and KPL_PLUGIN)")
	}
	_, file, _, _ := runtime.Caller(0)
	e := env{
		fluentBit: os.Getenv("FLUENT_BIT"),
		plugin:    os.Getenv("KPL_PLUGIN"),
		tool:      filepath.Join(filepath.Dir(file), "..", "node", "kinesis-tool.js"),
	}
	for what, path := range map[string]string{"FLUENT_BIT": e.fluentBit, "KPL_PLUGIN": e.plugin, "kinesis-tool.js": e.tool} {
		if path == "" {
			t.Fatalf("%s is not set", what)
		}
		if _, err := os.Stat(path); err != nil {
			t.Fatalf("%s: %v", what, err)
		}
	}
	return e
}

// proc is a process a test started; Cleanup stops it by its PID.
type proc struct {
	name string
	cmd  *exec.Cmd
	done chan error
	log  string
}

func start(t *testing.T, logName string, extraEnv []string, name string, args ...string) *proc {
	t.Helper()
	logPath := filepath.Join(t.TempDir(), logName)
	f, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(name, args...)
	cmd.Stdout, cmd.Stderr = f, f
	// The tests' own credentials come last and so win (see logscan_test.go).
	cmd.Env = append(append(os.Environ(), extraEnv...), testCredentials...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		f.Close()
		t.Fatalf("start %s: %v", name, err)
	}
	p := &proc{name: filepath.Base(name), cmd: cmd, done: make(chan error, 1), log: logPath}
	go func() { p.done <- cmd.Wait(); f.Close() }()
	t.Cleanup(func() {
		p.stop(t, 30*time.Second)
		checkLogClean(t, p)
	})
	return p
}

// stop sends SIGTERM to the process's own PID and waits; after the grace
// it kills it. It returns the exit error, or nil if already stopped.
func (p *proc) stop(t *testing.T, grace time.Duration) error {
	if p.cmd.ProcessState != nil {
		return nil
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-p.done:
		p.done <- err
		return err
	case <-time.After(grace):
		t.Errorf("pid %d did not stop within %s after SIGTERM; killing it", p.cmd.Process.Pid, grace)
		_ = p.cmd.Process.Kill()
		err := <-p.done
		p.done <- err
		return err
	}
}

func (p *proc) output() string {
	b, _ := os.ReadFile(p.log)
	return string(b)
}

// kinesalite starts the emulator on a free loopback port and returns its URL.
func kinesalite(t *testing.T, e env) string {
	t.Helper()
	portFile := filepath.Join(t.TempDir(), "port")
	p := start(t, "kinesalite.log", nil, "node", "--no-warnings", e.tool, "serve", portFile)
	var url string
	pollUntil(t, p, 20*time.Second, func() bool {
		b, err := os.ReadFile(portFile)
		if err == nil && len(b) > 0 {
			url = "http://127.0.0.1:" + strings.TrimSpace(string(b))
		}
		return url != ""
	})
	if url == "" {
		t.Fatalf("kinesalite did not start\n%s", p.output())
	}
	return url
}

func tool(t *testing.T, e env, args ...string) []byte {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "node", append([]string{"--no-warnings", e.tool}, args...)...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("kinesis-tool %s: %v\n%s", strings.Join(args, " "), err, stderr.String())
	}
	return out
}

func createStream(t *testing.T, e env, endpoint, name string, shards int) {
	tool(t, e, "create", endpoint, name, strconv.Itoa(shards))
}

// userRecord is one record as the independent consumer saw it.
type userRecord struct {
	Shard      string `json:"shard"`
	Seq        string `json:"seq"`
	Sub        int    `json:"sub"`
	Aggregated bool   `json:"aggregated"`
	PK         string `json:"pk"`
	EHK        string `json:"ehk"`
	InShard    bool   `json:"inShard"`
	Data       []byte `json:"data"`
	// ResponseLost: the fake stored it under a response it then lost (the
	// JavaScript consumer cannot know, and leaves it false).
	ResponseLost bool `json:"-"`
}

func readStream(t *testing.T, e env, endpoint, stream string) []userRecord {
	t.Helper()
	out := tool(t, e, "read", endpoint, stream)
	var recs []userRecord
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(make([]byte, 1<<20), 16<<20)
	for sc.Scan() {
		var r userRecord
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			t.Fatalf("consumer output: %v", err)
		}
		recs = append(recs, r)
	}
	return recs
}

// waitFor polls the stream until it holds want records or the deadline
// passes, and returns what it read last.
func waitFor(t *testing.T, e env, endpoint, stream string, want int, fb *proc) []userRecord {
	t.Helper()
	var recs []userRecord
	pollUntil(t, fb, 90*time.Second, func() bool {
		recs = readStream(t, e, endpoint, stream)
		return len(recs) >= want
	})
	return recs
}

// pollUntil calls done until it returns true or within passes (done's last
// answer then stands: the caller's checks report what is missing). It fails
// the test at once if Fluent Bit exits meanwhile.
func pollUntil(t *testing.T, fb *proc, within time.Duration, done func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !done() && time.Now().Before(deadline) {
		select {
		case err := <-fb.done:
			fb.done <- err
			t.Fatalf("%s exited early: %v\n%s", fb.name, err, fb.output())
		case <-time.After(100 * time.Millisecond):
		}
	}
}

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// fluentBit writes the configuration and starts Fluent Bit with the plugin;
// extraEnv ("FLB_LOG_LEVEL=debug") adds to its environment.
func fluentBit(t *testing.T, e env, config string, extraEnv ...string) *proc {
	t.Helper()
	path := filepath.Join(t.TempDir(), "fluent-bit.conf")
	if err := os.WriteFile(path, []byte(config), 0o600); err != nil {
		t.Fatal(err)
	}
	return start(t, "fluent-bit.log", append([]string{"AWS_ACCESS_KEY_ID=e2e", "AWS_SECRET_ACCESS_KEY=e2e", "AWS_REGION=us-east-1"}, extraEnv...),
		e.fluentBit, "-e", e.plugin, "-c", path)
}

// pipelineConfig is the [SERVICE] and http [INPUT] sections every test
// uses; outputs follow it. Retries are scheduled within 1-2 seconds.
const pipelineConfig = `
[SERVICE]
    Flush           1
    Grace           10
    Log_Level       info
    scheduler.base  1
    scheduler.cap   2

[INPUT]
    Name    http
    Listen  127.0.0.1
    Port    %d
`

// pipeline starts Fluent Bit with an http input on a free port feeding the
// given [OUTPUT] sections, and waits until the input accepts connections.
func pipeline(t *testing.T, e env, outputs string) (*proc, int) {
	t.Helper()
	port := freePort(t)
	fb := fluentBit(t, e, fmt.Sprintf(pipelineConfig, port)+outputs)
	waitHTTP(t, fb, port)
	return fb, port
}

// output is an [OUTPUT] section of the plugin sending what matches to
// stream at endpoint (plain http, allowed); each extra line
// ("partition_key pk") follows.
func output(match, stream, endpoint string, extra ...string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "\n[OUTPUT]\n    Name      kinesis_kpl\n    Match     %s\n    stream    %s\n    endpoint  %s\n    allow_http on\n", match, stream, endpoint)
	for _, line := range extra {
		b.WriteString("    " + line + "\n")
	}
	return b.String()
}

// shutdown stops Fluent Bit as its service manager would and expects a
// clean exit.
func (p *proc) shutdown(t *testing.T) {
	t.Helper()
	if err := p.stop(t, 30*time.Second); err != nil {
		t.Errorf("fluent-bit exit: %v\n%s", err, p.output())
	}
}

// waitHTTP waits until Fluent Bit's http input accepts connections.
func waitHTTP(t *testing.T, fb *proc, port int) {
	t.Helper()
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	open := false
	pollUntil(t, fb, 20*time.Second, func() bool {
		if c, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
			c.Close()
			open = true
		}
		return open
	})
	if !open {
		t.Fatalf("fluent-bit's http input did not open port %d\n%s", port, fb.output())
	}
}

// post sends records, as JSON objects, to Fluent Bit's http input under tag,
// in batches.
func post(t *testing.T, port int, tag string, records [][]byte) {
	t.Helper()
	client := &http.Client{Timeout: 30 * time.Second}
	const batch = 200
	for i := 0; i < len(records); i += batch {
		end := min(i+batch, len(records))
		var body bytes.Buffer
		body.WriteByte('[')
		for j, r := range records[i:end] {
			if j > 0 {
				body.WriteByte(',')
			}
			body.Write(r)
		}
		body.WriteByte(']')
		resp, err := client.Post(fmt.Sprintf("http://127.0.0.1:%d/%s", port, tag), "application/json", &body)
		if err != nil {
			t.Fatalf("post: %v", err)
		}
		resp.Body.Close()
		if resp.StatusCode/100 != 2 {
			t.Fatalf("post: http input answered %s", resp.Status)
		}
	}
}

// peakRSS returns the process's peak resident set size so far (VmHWM in
// /proc/PID/status), in KiB. Read it before stopping the process.
func (p *proc) peakRSS(t *testing.T) int {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", p.cmd.Process.Pid))
	if err != nil {
		t.Fatalf("peak RSS of %s: %v", p.name, err)
	}
	for line := range strings.SplitSeq(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kib, err := strconv.Atoi(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")))
			if err != nil {
				t.Fatalf("peak RSS of %s: %q: %v", p.name, line, err)
			}
			return kib
		}
	}
	t.Fatalf("peak RSS of %s: no VmHWM in /proc/%d/status", p.name, p.cmd.Process.Pid)
	return 0
}

// filesystemPipeline is the [SERVICE] and http [INPUT] sections of the tests
// that keep chunks in Fluent Bit's filesystem storage under storage: Grace
// 5 s, retries within 1-2 seconds, the input on port. Outputs follow it.
func filesystemPipeline(storage string, port int) string {
	return fmt.Sprintf(`
[SERVICE]
    Flush           1
    Grace           5
    Log_Level       info
    scheduler.base  1
    scheduler.cap   2
    storage.path    %s

[INPUT]
    Name          http
    Listen        127.0.0.1
    Port          %d
    storage.type  filesystem
`, storage, port)
}
