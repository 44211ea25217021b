// Package examples holds the example configurations (*.conf, the
// Kubernetes DaemonSet, the ECS task definition) and the tests that keep
// them loadable: every plugin section passes the plugin's own option
// checks, and Fluent Bit loads every file with --dry-run.
package examples

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/kinesis-kpl/fluent-bit-kinesis-kpl/conf"
)

// env is what the examples read from the environment.
var env = map[string]string{
	"KINESIS_STREAM":   "app-logs",
	"AWS_REGION":       "eu-west-1",
	"DEMO_LOG":         "/tmp/containers.log",
	"KINESIS_ENDPOINT": "http://127.0.0.1:4567",
}

// section is one [NAME] section of a classic Fluent Bit configuration, its
// keys in order.
type section struct {
	name string
	keys [][2]string
}

func (s section) get(key string) string {
	for _, kv := range s.keys {
		if strings.EqualFold(kv[0], key) {
			return kv[1]
		}
	}
	return ""
}

// parse reads a classic configuration: sections, "key value" lines,
// comments. @INCLUDE and @SET are not used by the examples and are errors.
func parse(t *testing.T, name string, text []byte) []section {
	t.Helper()
	var out []section
	sc := bufio.NewScanner(bytes.NewReader(text))
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		switch {
		case line == "" || strings.HasPrefix(line, "#"):
		case strings.HasPrefix(line, "[") && strings.HasSuffix(line, "]"):
			out = append(out, section{name: strings.ToUpper(line[1 : len(line)-1])})
		case strings.HasPrefix(line, "@") || len(out) == 0:
			t.Fatalf("%s:%d: unexpected %q", name, n, line)
		default:
			key, value, _ := strings.Cut(line, " ")
			out[len(out)-1].keys = append(out[len(out)-1].keys, [2]string{key, strings.TrimSpace(value)})
		}
	}
	return out
}

// pipelines returns the examples that are Fluent Bit configurations with
// an [OUTPUT] (not the plugins and parsers files), read.
func pipelines(t *testing.T) map[string][]byte {
	t.Helper()
	files, err := filepath.Glob("*.conf")
	if err != nil {
		t.Fatal(err)
	}
	out := map[string][]byte{}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if bytes.Contains(b, []byte("[OUTPUT]")) {
			out[f] = b
		}
	}
	if len(out) < 7 {
		t.Fatalf("found %d example pipelines; want at least 7", len(out))
	}
	return out
}

// Every kinesis_kpl section passes the plugin's option checks and runs its
// flushes on output workers.
func TestExampleOutputs(t *testing.T) {
	for name, text := range pipelines(t) {
		t.Run(name, func(t *testing.T) {
			outputs := 0
			for _, s := range parse(t, name, text) {
				if s.name != "OUTPUT" || s.get("Name") != "kinesis_kpl" {
					continue
				}
				outputs++
				if n, err := strconv.Atoi(s.get("workers")); err != nil || n < 1 {
					t.Errorf("an output without workers >= 1 (workers %q): a flush would wait on the engine thread", s.get("workers"))
				}
				g := conf.MapGetter{}
				for _, kv := range s.keys {
					g[kv[0]] = os.Expand(kv[1], func(v string) string { return env[v] })
				}
				if _, err := conf.Load(g); err != nil {
					t.Errorf("output for %s: %v", s.get("Match"), err)
				}
			}
			if outputs == 0 {
				t.Error("no kinesis_kpl output")
			}
		})
	}
}

// The DaemonSet's ConfigMap carries kubernetes.conf unchanged.
func TestDaemonSetCarriesKubernetesConf(t *testing.T) {
	yaml, err := os.ReadFile("kubernetes-daemonset.yaml")
	if err != nil {
		t.Fatal(err)
	}
	want, err := os.ReadFile("kubernetes.conf")
	if err != nil {
		t.Fatal(err)
	}
	var got strings.Builder
	in := false
	for line := range strings.Lines(string(yaml)) {
		switch {
		case strings.TrimSpace(line) == "fluent-bit.conf: |":
			in = true
		case in && strings.TrimSpace(line) == "":
			got.WriteString("\n")
		case in && strings.HasPrefix(line, "    "):
			got.WriteString(line[4:])
		case in:
			in = false
		}
	}
	if got.String() != string(want) {
		t.Errorf("the ConfigMap's fluent-bit.conf differs from kubernetes.conf:\n%s", got.String())
	}
	for _, want := range []string{"eks.amazonaws.com/role-arn:", "serviceAccountName: fluent-bit", "kind: DaemonSet"} {
		if !strings.Contains(string(yaml), want) {
			t.Errorf("kubernetes-daemonset.yaml lacks %q", want)
		}
	}
}

// The task definition loads the plugin the image holds and names the
// configuration file the image holds.
func TestFireLensTaskDefinition(t *testing.T) {
	b, err := os.ReadFile("firelens-task-definition.json")
	if err != nil {
		t.Fatal(err)
	}
	var td struct {
		ContainerDefinitions []struct {
			Name                  string
			Command               []string
			FirelensConfiguration *struct {
				Type    string
				Options map[string]string
			}
			LogConfiguration *struct{ LogDriver string }
		}
	}
	if err := json.Unmarshal(b, &td); err != nil {
		t.Fatal(err)
	}
	dockerfile, err := os.ReadFile(filepath.Join("..", "..", "Dockerfile"))
	if err != nil {
		t.Fatal(err)
	}
	routers, apps := 0, 0
	for _, c := range td.ContainerDefinitions {
		if fl := c.FirelensConfiguration; fl != nil {
			routers++
			if fl.Type != "fluentbit" || !slices.Contains(c.Command, "/fluent-bit/plugins/out_kinesis_kpl.so") {
				t.Errorf("log router %s: type %q, command %q: want fluentbit loading the plugin with -e", c.Name, fl.Type, c.Command)
			}
			copyLine := "COPY conf/examples/firelens.conf " + fl.Options["config-file-value"]
			if !strings.Contains(string(dockerfile), copyLine) {
				t.Errorf("the Dockerfile lacks %q", copyLine)
			}
		}
		if c.LogConfiguration != nil && c.LogConfiguration.LogDriver == "awsfirelens" {
			apps++
		}
	}
	if routers != 1 || apps == 0 {
		t.Errorf("%d log routers and %d containers logging to FireLens; want 1 and at least 1", routers, apps)
	}
}

// Fluent Bit (FLUENT_BIT, with the plugin KPL_PLUGIN) loads every example
// with --dry-run, without an error or a warning (1.8.15's --dry-run exits
// 0 even when the plugin cannot be loaded, so its output is read too). It
// runs with `make e2e` (KPL_E2E set). --dry-run reads the files, resolves
// every plugin and filter name and loads the plugin, but starts nothing:
// option values are checked by TestExampleOutputs.
func TestExamplesLoadInFluentBit(t *testing.T) {
	if os.Getenv("KPL_E2E") == "" {
		t.Skip("runs with `make e2e` (set KPL_E2E=1, FLUENT_BIT and KPL_PLUGIN)")
	}
	fluentBit, plugin := os.Getenv("FLUENT_BIT"), os.Getenv("KPL_PLUGIN")
	for what, path := range map[string]string{"FLUENT_BIT": fluentBit, "KPL_PLUGIN": plugin} {
		if _, err := os.Stat(path); path == "" || err != nil {
			t.Fatalf("%s %q: %v", what, path, err)
		}
	}
	filters := builtFilters(t, fluentBit)
	dir := t.TempDir()
	for _, name := range []string{"parsers.conf"} {
		b, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	// plugins.conf as the image has it, pointing at the plugin under test.
	plugins, err := os.ReadFile("plugins.conf")
	if err != nil {
		t.Fatal(err)
	}
	plugins = bytes.ReplaceAll(plugins, []byte("/fluent-bit/plugins/out_kinesis_kpl.so"), []byte(plugin))
	if err := os.WriteFile(filepath.Join(dir, "plugins.conf"), plugins, 0o600); err != nil {
		t.Fatal(err)
	}
	for name, text := range pipelines(t) {
		t.Run(name, func(t *testing.T) {
			text = withoutFilters(t, name, text, filters)
			path := filepath.Join(dir, name)
			if err := os.WriteFile(path, text, 0o600); err != nil {
				t.Fatal(err)
			}
			args := []string{"--dry-run", "-c", path}
			if !regexp.MustCompile(`(?mi)^\s*Plugins_File\s`).Match(text) {
				args = append([]string{"-e", plugin}, args...)
			}
			ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
			defer cancel()
			cmd := exec.CommandContext(ctx, fluentBit, args...)
			cmd.Dir = dir // relative Plugins_File and Parsers_File paths
			cmd.Env = os.Environ()
			for k, v := range env {
				cmd.Env = append(cmd.Env, k+"="+v)
			}
			out, err := cmd.CombinedOutput()
			if err != nil || !bytes.Contains(out, []byte("configuration test is successful")) {
				t.Fatalf("fluent-bit %s: %v\n%s", strings.Join(args, " "), err, out)
			}
			// Anything but the banner and the verdict is a problem: 1.8.15
			// reports some (an unknown filter, a plugin that cannot be
			// loaded) and still says the test is successful. Newer
			// versions draw a logo under the banner.
			for line := range strings.Lines(ansi.ReplaceAllString(string(out), "")) {
				line = strings.TrimSpace(line)
				if line == "" || line == "configuration test is successful" || banner.MatchString(line) || logo.MatchString(line) {
					continue
				}
				t.Errorf("fluent-bit: %s", line)
			}
		})
	}
}

var (
	ansi = regexp.MustCompile(`\x1b\[[0-9;]*m`)
	// logo matches the lines of the logo Fluent Bit 2 and later draw:
	// strokes only, no words.
	logo   = regexp.MustCompile(`^[ _|/\\()'` + "`" + `,.V-]+$`)
	banner = regexp.MustCompile(`^(Fluent Bit v\d|\* Copyright \(C\)|\* Fluent Bit is a CNCF|\* https://fluentbit\.io$)`)
)

// builtFilters lists the filters in fluent-bit --help.
func builtFilters(t *testing.T, fluentBit string) map[string]bool {
	t.Helper()
	out, _ := exec.Command(fluentBit, "--help").CombinedOutput()
	filters := map[string]bool{}
	in := false
	for line := range strings.Lines(ansi.ReplaceAllString(string(out), "")) {
		switch {
		case strings.TrimSpace(line) == "Filters":
			in = true
		case in && strings.TrimSpace(line) == "":
			in = false
		case in:
			filters[strings.Fields(line)[0]] = true
		}
	}
	if !filters["grep"] {
		t.Fatalf("cannot read the filter list of %s --help:\n%s", fluentBit, out)
	}
	return filters
}

// optionalFilters may be missing from a Fluent Bit under test built with
// few plugins (the project's 1.8.15 build has them); the official images
// have them.
var optionalFilters = map[string]bool{"kubernetes": true}

// withoutFilters drops the [FILTER] sections of optional filters that this
// Fluent Bit was built without. Any other unknown filter stays, and fails.
func withoutFilters(t *testing.T, name string, text []byte, built map[string]bool) []byte {
	t.Helper()
	filterName := regexp.MustCompile(`(?mi)^\s*Name\s+(\S+)`)
	var kept bytes.Buffer
	for _, s := range splitSections(string(text)) {
		if strings.HasPrefix(strings.ToUpper(strings.TrimSpace(s)), "[FILTER]") {
			if m := filterName.FindStringSubmatch(s); m != nil && optionalFilters[m[1]] && !built[m[1]] {
				t.Logf("%s: the %s filter is left out: this Fluent Bit was built without it", name, m[1])
				continue
			}
		}
		kept.WriteString(s)
	}
	return kept.Bytes()
}

// splitSections cuts a configuration before each line that opens a
// section; comments above a section stay with the one before it.
func splitSections(text string) []string {
	var parts []string
	var cur strings.Builder
	for line := range strings.Lines(text) {
		if strings.HasPrefix(strings.TrimSpace(line), "[") && cur.Len() > 0 {
			parts = append(parts, cur.String())
			cur.Reset()
		}
		cur.WriteString(line)
	}
	return append(parts, cur.String())
}
