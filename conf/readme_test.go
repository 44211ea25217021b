package conf

import (
	"bytes"
	"flag"
	"os"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the README's options table from Options")

const (
	readmePath  = "../README.md"
	tableStart  = "<!-- options table: generated from conf.Options by `go generate ./conf` -->\n"
	tableEnd    = "<!-- end of options table -->\n"
	tableHeader = "| Option | Default | Meaning |\n|---|---|---|\n"
)

// optionsTable renders Options as the README's markdown table.
func optionsTable() string {
	var b strings.Builder
	b.WriteString(tableHeader)
	for _, o := range Options {
		def := ""
		if o.Default != "" {
			def = "`" + o.Default + "`"
		}
		b.WriteString("| `" + o.Name + "` | " + def + " | " + strings.ReplaceAll(o.Help, "|", `\|`) + " |\n")
	}
	return b.String()
}

// TestReadmeOptions fails when the README's options table and Options
// disagree; `go generate ./conf` (this test with -update) rewrites it.
func TestReadmeOptions(t *testing.T) {
	readme, err := os.ReadFile(readmePath)
	if err != nil {
		t.Fatal(err)
	}
	i := bytes.Index(readme, []byte(tableStart))
	j := bytes.Index(readme, []byte(tableEnd))
	if i < 0 || j < i {
		t.Fatalf("%s has no %q ... %q section", readmePath, tableStart, tableEnd)
	}
	body := i + len(tableStart)
	want := optionsTable()
	if string(readme[body:j]) == want {
		return
	}
	if !*update {
		t.Fatalf("the options table in %s is not what conf.Options says; run `go generate ./conf`", readmePath)
	}
	out := append(append(append([]byte{}, readme[:body]...), want...), readme[j:]...)
	if err := os.WriteFile(readmePath, out, 0o644); err != nil {
		t.Fatal(err)
	}
}
