package record

import (
	"strings"
	"testing"

	"github.com/kinesis-kpl/fluent-bit-kinesis-kpl/conf"
)

func TestTemplateAppend(t *testing.T) {
	body := ordered{
		{"kubernetes", ordered{{"namespace_name", "prod"}, {"pod_name", "web-1"}, {"labels", ordered{}}}},
		{"n", 42},
		{"empty", ""},
		{"nil", nil},
	}
	tests := []struct {
		template string
		tag      string
		want     string // "": no value
	}{
		{"logs", "kube.var.log", "logs"},
		{"$TAG", "kube.var.log", "kube.var.log"},
		{"$TAG[0]", "kube.var.log", "kube"},
		{"$TAG[2]", "kube.var.log", "log"},
		{"$TAG[3]", "kube.var.log", ""},
		{"$TAG[1]", "kube", ""},
		{"$TAG[0]", "", ""},
		{"$TAG", "", ""},
		{"a.$TAG[1].b", "x.y.z", "a.y.b"},
		{"$TAG[1]", "x..z", ""},
		{"logs-${kubernetes->namespace_name}", "t", "logs-prod"},
		{"${kubernetes.pod_name}/${n}", "t", "web-1/42"},
		{"${$kubernetes['namespace_name']}", "t", "prod"},
		{"${missing}", "t", ""},
		{"x${missing}", "t", ""},
		{"${empty}", "t", ""},
		{"${nil}", "t", ""},
		{"${kubernetes->labels}", "t", ""},
		{"${kubernetes->pod_name->deeper}", "t", ""},
		{"$$TAG", "t", "$TAG"},
		{"cost$$", "t", "cost$"},
		{"$TAG-$n", "app", "app-42"},
		{"$kubernetes['pod_name']", "t", "web-1"},
		{"${TAG}", "t", ""},
	}
	b := mp(t, body)
	for _, tt := range tests {
		tpl, err := conf.ParseTemplate(tt.template)
		if err != nil {
			t.Fatalf("ParseTemplate(%q): %v", tt.template, err)
		}
		got, ok := appendTemplate([]byte("kept"), tpl, tt.tag, b)
		switch {
		case tt.want == "" && (ok || string(got) != "kept"):
			t.Errorf("%q with tag %q = %q, %v; want no value and dst unchanged", tt.template, tt.tag, got, ok)
		case tt.want != "" && (!ok || string(got) != "kept"+tt.want):
			t.Errorf("%q with tag %q = %q, %v; want %q", tt.template, tt.tag, got, ok, tt.want)
		}
	}
}

// FuzzTemplate: whatever conf.ParseTemplate accepts evaluates without
// panic, reports a value exactly when it wrote one, and a template without
// '$' is itself.
func FuzzTemplate(f *testing.F) {
	for _, s := range []string{"$TAG", "$TAG[1]-${a->b}", "$$", "${$a['b']}", "x${", "$TAG[99999999999999999999]"} {
		f.Add(s, "a.b.c")
	}
	body := mp(f, ordered{{"a", ordered{{"b", "v"}}}, {"n", 1.5}})
	f.Fuzz(func(t *testing.T, s, tag string) {
		tpl, err := conf.ParseTemplate(s)
		if err != nil {
			return
		}
		got, ok := appendTemplate(nil, tpl, tag, body)
		if ok == (len(got) == 0) {
			t.Fatalf("%q: Append = %q, %v", s, got, ok)
		}
		if !strings.Contains(s, "$") && string(got) != s {
			t.Fatalf("literal template %q gives %q", s, got)
		}
	})
}
