// Package dist checks the release build: what `make dist` writes (one
// shared object per architecture, exporting what Fluent Bit calls, stamped
// with the version, with checksums), and that the Dockerfile builds the
// plugin the way the Makefile does.
package dist

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"debug/elf"
	"encoding/hex"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"testing"
)

// root is the repository's top folder.
func root(t *testing.T) string {
	t.Helper()
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..")
}

// distDir is KPL_DIST (set by `make distcheck`, which runs `make dist`
// first: then a missing file fails), else the repository's dist/ when a
// `make dist` left one; without either the test skips.
func distDir(t *testing.T) string {
	t.Helper()
	if dir := os.Getenv("KPL_DIST"); dir != "" {
		return dir
	}
	dir := filepath.Join(root(t), "dist")
	if _, err := os.Stat(filepath.Join(dir, "SHA256SUMS")); err != nil {
		t.Skip("no dist/ to check: run `make distcheck`")
	}
	return dir
}

// exports are the symbols Fluent Bit's Go proxy looks up.
var exports = []string{"FLBPluginRegister", "FLBPluginInit", "FLBPluginFlushCtx", "FLBPluginExit"}

func TestDistSharedObjects(t *testing.T) {
	dir := distDir(t)
	version, err := os.ReadFile(filepath.Join(dir, "VERSION"))
	if err != nil {
		t.Fatal(err)
	}
	version = bytes.TrimSpace(version)
	if len(version) == 0 {
		t.Fatal("dist/VERSION is empty")
	}
	for _, tc := range []struct {
		file    string
		machine elf.Machine
	}{
		{"out_kinesis_kpl-linux-arm64.so", elf.EM_AARCH64},
		{"out_kinesis_kpl-linux-amd64.so", elf.EM_X86_64},
	} {
		t.Run(tc.file, func(t *testing.T) {
			path := filepath.Join(dir, tc.file)
			f, err := elf.Open(path)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			if f.Class != elf.ELFCLASS64 || f.Machine != tc.machine || f.Type != elf.ET_DYN {
				t.Errorf("%s is %v %v %v; want a 64-bit %v shared object (ET_DYN)", tc.file, f.Class, f.Machine, f.Type, tc.machine)
			}
			syms, err := f.DynamicSymbols()
			if err != nil {
				t.Fatal(err)
			}
			defined := map[string]bool{}
			for _, s := range syms {
				if elf.ST_TYPE(s.Info) == elf.STT_FUNC && s.Section != elf.SHN_UNDEF && elf.ST_BIND(s.Info) == elf.STB_GLOBAL {
					defined[s.Name] = true
				}
			}
			for _, name := range exports {
				if !defined[name] {
					t.Errorf("%s does not export the function %s", tc.file, name)
				}
			}
			body, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Contains(body, version) {
				t.Errorf("%s does not carry the version %q", tc.file, version)
			}
		})
	}
}

func TestDistChecksums(t *testing.T) {
	dir := distDir(t)
	sums, err := os.ReadFile(filepath.Join(dir, "SHA256SUMS"))
	if err != nil {
		t.Fatal(err)
	}
	listed := map[string]bool{}
	sc := bufio.NewScanner(bytes.NewReader(sums))
	for sc.Scan() {
		sum, name, ok := strings.Cut(sc.Text(), "  ")
		if !ok {
			t.Fatalf("SHA256SUMS line %q is not in sha256sum's form", sc.Text())
		}
		body, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		got := sha256.Sum256(body)
		if hex.EncodeToString(got[:]) != sum {
			t.Errorf("%s: SHA-256 %x; SHA256SUMS says %s", name, got, sum)
		}
		listed[name] = true
	}
	for _, name := range []string{"out_kinesis_kpl-linux-amd64.so", "out_kinesis_kpl-linux-arm64.so", "VERSION"} {
		if !listed[name] {
			t.Errorf("SHA256SUMS does not list %s", name)
		}
	}
}

// The Dockerfile must build with the Go that go.mod names and through the
// Makefile, so that `make build` stays the one description of the build.
func TestDockerfileAgreesWithMakefile(t *testing.T) {
	read := func(name string) string {
		b, err := os.ReadFile(filepath.Join(root(t), name))
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	dockerfile, makefile, gomod := read("Dockerfile"), read("Makefile"), read("go.mod")

	goVersion := regexp.MustCompile(`(?m)^go (\d+\.\d+)`).FindStringSubmatch(gomod)
	if goVersion == nil {
		t.Fatal("go.mod has no go directive")
	}
	if toolchain := regexp.MustCompile(`(?m)^toolchain go(\d+\.\d+)`).FindStringSubmatch(gomod); toolchain != nil {
		goVersion = toolchain
	}
	arg := regexp.MustCompile(`(?m)^ARG GO_VERSION=(\S+)$`).FindStringSubmatch(dockerfile)
	if arg == nil || arg[1] != goVersion[1] {
		t.Errorf("Dockerfile ARG GO_VERSION = %v; want %s, the Go of go.mod", arg, goVersion[1])
	}
	if !regexp.MustCompile(`(?m)^FROM [^\n]*golang:\$\{GO_VERSION\}`).MatchString(dockerfile) {
		t.Error("the Dockerfile's build stage is not FROM golang:${GO_VERSION}")
	}

	// The build runs `make dist` with the version handed in, and sets no Go
	// flags of its own.
	if !regexp.MustCompile(`(?m)^RUN make dist VERSION="?\$\{VERSION\}"?`).MatchString(dockerfile) {
		t.Error("the Dockerfile does not build with `RUN make dist VERSION=${VERSION}`")
	}
	for _, own := range []string{"go build", "-ldflags", "-buildmode", "-trimpath", "CGO_ENABLED"} {
		if strings.Contains(dockerfile, own) {
			t.Errorf("the Dockerfile sets %q itself; the Makefile's SO_FLAGS must be the only place", own)
		}
	}

	// In the Makefile, build and dist share SO_FLAGS, which stamps the
	// version the plugin logs.
	flags := regexp.MustCompile(`(?m)^SO_FLAGS = (.+)$`).FindStringSubmatch(makefile)
	if flags == nil {
		t.Fatal("the Makefile defines no SO_FLAGS")
	}
	for _, want := range []string{"-buildmode=c-shared", "-trimpath", "-X main.version=$(VERSION)"} {
		if !strings.Contains(flags[1], want) {
			t.Errorf("SO_FLAGS = %s; lacks %s", flags[1], want)
		}
	}
	builds := regexp.MustCompile(`(?m)\$\(GO\) build ([^\n]*)`).FindAllStringSubmatch(makefile, -1)
	var soBuilds int
	for _, b := range builds {
		if strings.Contains(b[1], "./plugin") {
			soBuilds++
			if !strings.HasPrefix(b[1], "$(SO_FLAGS) ") {
				t.Errorf("a plugin build without SO_FLAGS: %s", b[0])
			}
		}
	}
	if soBuilds != 2 {
		t.Errorf("%d plugin builds in the Makefile; want 2 (build and dist)", soBuilds)
	}

	// The image holds the plugins file and an example configuration that
	// loads it, and does not run as root.
	for _, want := range []string{
		"COPY conf/examples/plugins.conf /fluent-bit/etc/plugins.conf",
		"COPY conf/examples/image.conf /fluent-bit/etc/fluent-bit.conf",
		"/fluent-bit/plugins/out_kinesis_kpl.so",
	} {
		if !strings.Contains(dockerfile, want) {
			t.Errorf("the Dockerfile lacks %q", want)
		}
	}
	user := regexp.MustCompile(`(?m)^USER (\S+)`).FindAllStringSubmatch(dockerfile, -1)
	if len(user) == 0 || user[len(user)-1][1] == "0" || strings.HasPrefix(user[len(user)-1][1], "root") {
		t.Errorf("the image's last USER is %v; want a non-root user", user)
	}
	if !regexp.MustCompile(`(?m)^ARG FLUENT_BIT_VERSION=5\.\d+\.\d+`).MatchString(dockerfile) {
		t.Error("the Dockerfile does not pin a Fluent Bit 5.x.y base")
	}
}
