package record

import (
	"strings"
	"testing"
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
		{"$TAGS", "app", "appS"},
	}
	b := mp(t, body)
	for _, tt := range tests {
		tpl, err := ParseTemplate(tt.template)
		if err != nil {
			t.Fatalf("ParseTemplate(%q): %v", tt.template, err)
		}
		if tpl.String() != tt.template {
			t.Errorf("String() = %q, want %q", tpl.String(), tt.template)
		}
		got, ok := tpl.Append([]byte("kept"), tt.tag, b)
		switch {
		case tt.want == "" && (ok || string(got) != "kept"):
			t.Errorf("%q with tag %q = %q, %v; want no value and dst unchanged", tt.template, tt.tag, got, ok)
		case tt.want != "" && (!ok || string(got) != "kept"+tt.want):
			t.Errorf("%q with tag %q = %q, %v; want %q", tt.template, tt.tag, got, ok, tt.want)
		}
	}
}

func TestParseTemplateErrors(t *testing.T) {
	for _, s := range []string{"", "$", "a$", "$tag", "$TAG[", "$TAG[]", "$TAG[x]", "$TAG[-1]", "$TAG[+1]",
		"$TAG[256]", "${", "${a", "${}", "${a->}", "$(tag)", "${$a['b}"} {
		if tpl, err := ParseTemplate(s); err == nil {
			t.Errorf("ParseTemplate(%q) = %+v, want an error", s, tpl)
		}
	}
}

func TestIsTemplate(t *testing.T) {
	for s, want := range map[string]bool{
		"pod": false, "kubernetes->pod_name": false, "$pod": false, "$a['b']": false,
		"$TAG": true, "${pod}": true, "a$$": true, "$TAG[1]": true,
	} {
		if IsTemplate(s) != want {
			t.Errorf("IsTemplate(%q) = %v, want %v", s, !want, want)
		}
	}
}

func FuzzParseTemplate(f *testing.F) {
	for _, s := range []string{"$TAG", "$TAG[1]-${a->b}", "$$", "${$a['b']}", "x${", "$TAG[99999999999999999999]"} {
		f.Add(s, "a.b.c")
	}
	body := mp(f, ordered{{"a", ordered{{"b", "v"}}}, {"n", 1.5}})
	f.Fuzz(func(t *testing.T, s, tag string) {
		tpl, err := ParseTemplate(s)
		if err != nil {
			return
		}
		got, ok := tpl.Append(nil, tag, body)
		if ok == (len(got) == 0) {
			t.Fatalf("%q: Append = %q, %v", s, got, ok)
		}
		if !strings.Contains(s, "$") && string(got) != s {
			t.Fatalf("literal template %q gives %q", s, got)
		}
	})
}
