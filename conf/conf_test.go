package conf

import (
	"errors"
	"log/slog"
	"reflect"
	"strings"
	"testing"
	"time"
)

// defaults is the Config of a section that sets only the stream.
func defaults() Config {
	return Config{
		Stream:               "s",
		StreamTemplate:       Template{{Kind: PartLiteral, Literal: "s", TagIndex: -1}},
		MaxStreams:           16,
		TimeKeyFormat:        "%Y-%m-%dT%H:%M:%S",
		Compression:          CompressionNone,
		Aggregation:          AggregationKPL,
		AggregationMaxSize:   50 << 10,
		MaxRecordSize:        1 << 20,
		RequestMaxSize:       5 << 20,
		Oversize:             OversizeDrop,
		RateLimit:            150,
		ShardRefreshInterval: time.Minute,
		MaxConnections:       24,
		WireFormat:           WireCBOR, // auto, without an endpoint: AWS's own
		HTTPRequestTimeout:   10 * time.Second,
		AutoRetryRequests:    true,
		FlushTimeout:         4 * time.Second,
		RecordTTL:            30 * time.Second,
		RetryLedger:          true,
		ExitTimeout:          5 * time.Second,
		LogLevel:             slog.LevelInfo,
		StatsInterval:        time.Minute,
	}
}

func TestLoadDefaults(t *testing.T) {
	c, err := Load(MapGetter{"Stream": "s"})
	if err != nil {
		t.Fatal(err)
	}
	if want := defaults(); !reflect.DeepEqual(c, want) {
		t.Fatalf("got  %+v\nwant %+v", c, want)
	}
}

func must(t Template, err error) Template {
	if err != nil {
		panic(err)
	}
	return t
}

type good struct {
	value string
	with  MapGetter     // other options the value needs
	want  func(*Config) // applied to defaults() (and to what with sets)
}

// optionCases holds, for every option, values that load and what they
// give, and values that fail. TestEveryOptionHasCases keeps it complete.
var optionCases = map[string]struct {
	good []good
	bad  []string
	with MapGetter // options every bad value needs besides the stream
}{
	"stream": {
		good: []good{
			{"app-logs.v1", nil, func(c *Config) { c.Stream, c.StreamTemplate = "app-logs.v1", must(ParseTemplate("app-logs.v1")) }},
			{"logs-$TAG[1]", nil, func(c *Config) { c.Stream, c.StreamTemplate = "logs-$TAG[1]", must(ParseTemplate("logs-$TAG[1]")) }},
			{"$kubernetes['namespace_name']", nil, func(c *Config) {
				c.Stream, c.StreamTemplate = "$kubernetes['namespace_name']", must(ParseTemplate("$kubernetes['namespace_name']"))
			}},
			{"logs-${k->ns}-$TAG", nil, func(c *Config) {
				c.Stream, c.StreamTemplate = "logs-${k->ns}-$TAG", must(ParseTemplate("logs-${k->ns}-$TAG"))
			}},
		},
		bad: []string{"a b", strings.Repeat("a", 129), "logs-$", "logs/$TAG", "$TAG[x]", "$a['b"},
	},
	"max_streams": {
		good: []good{{"1", nil, func(c *Config) { c.MaxStreams = 1 }}, {"256", nil, func(c *Config) { c.MaxStreams = 256 }}},
		bad:  []string{"0", "257", "x", "-1"},
	},
	"region": {
		good: []good{{"eu-west-1", nil, func(c *Config) { c.Region = "eu-west-1" }}},
		bad:  []string{"EU_WEST", "x y", "-eu", "ab"},
	},
	"partition_key": {
		good: []good{
			{"pk", nil, func(c *Config) { c.PartitionKey, c.PartitionKeyTemplate = "pk", must(ParsePartitionKey("pk")) }},
			{"kubernetes->pod_name", nil, func(c *Config) {
				c.PartitionKey, c.PartitionKeyTemplate = "kubernetes->pod_name", must(ParsePartitionKey("kubernetes->pod_name"))
			}},
			{"$TAG[0]-$pod", nil, func(c *Config) {
				c.PartitionKey, c.PartitionKeyTemplate = "$TAG[0]-$pod", must(ParsePartitionKey("$TAG[0]-$pod"))
			}},
			{"${a.b}-$$", nil, func(c *Config) {
				c.PartitionKey, c.PartitionKeyTemplate = "${a.b}-$$", must(ParsePartitionKey("${a.b}-$$"))
			}},
		},
		bad: []string{"$a['b", "a..b", "a->->b", "$", "$TAG[]", "\xff"},
	},
	"data_keys": {
		good: []good{{"log, stream", nil, func(c *Config) { c.DataKeys = []string{"log", "stream"} }}},
		bad:  []string{"log,,stream", ",log"},
	},
	"log_key": {
		good: []good{
			{"log", nil, func(c *Config) { c.LogKey = []string{"log"} }},
			{"a->b", nil, func(c *Config) { c.LogKey = []string{"a", "b"} }},
		},
		bad: []string{"a..b", "$a[b]"},
	},
	"append_newline": {
		good: []good{{"true", nil, func(c *Config) { c.AppendNewline = true }}},
		bad:  []string{"yes please", "2"},
	},
	"replace_dots": {
		good: []good{{"_", nil, func(c *Config) { c.ReplaceDots = "_" }}},
		bad:  []string{"-.-"},
	},
	"time_key": {
		good: []good{{"@timestamp", nil, func(c *Config) { c.TimeKey = "@timestamp" }}},
	},
	"time_key_format": {
		good: []good{
			{"%Y-%m-%dT%H:%M:%S.%3N%z", MapGetter{"time_key": "t"}, func(c *Config) {
				c.TimeKey, c.TimeKeyFormat = "t", "%Y-%m-%dT%H:%M:%S.%3N%z"
			}},
			{"%s.%L %f %9N%%", MapGetter{"time_key": "t"}, func(c *Config) { c.TimeKey, c.TimeKeyFormat = "t", "%s.%L %f %9N%%" }},
		},
		bad:  []string{"%Y-%Q", "%H:%M:%", "%4N"},
		with: MapGetter{"time_key": "t"},
	},
	"record_id_key": {
		good: []good{{"_id", nil, func(c *Config) { c.RecordIDKey = "_id" }}},
	},
	"compression": {
		good: []good{
			{"zlib", nil, func(c *Config) { c.Compression = CompressionZlib }},
			{"GZIP", nil, func(c *Config) { c.Compression = CompressionGzip }},
			{"zstd", nil, func(c *Config) { c.Compression = CompressionZstd }},
			{"snappy", nil, func(c *Config) { c.Compression = CompressionSnappy }},
			{"none", nil, func(c *Config) {}},
		},
		bad: []string{"lz4", "zip", "off"},
	},
	"compression_level": {
		good: []good{
			{"9", MapGetter{"compression": "gzip"}, func(c *Config) { c.Compression, c.CompressionLevel = CompressionGzip, 9 }},
			{"19", MapGetter{"compression": "zstd"}, func(c *Config) { c.Compression, c.CompressionLevel = CompressionZstd, 19 }},
		},
		bad:  []string{"10", "0x3", "-1", "high"},
		with: MapGetter{"compression": "zlib"},
	},
	"aggregation": {
		good: []good{
			{"off", nil, func(c *Config) { c.Aggregation = AggregationOff }},
			{"on", nil, func(c *Config) {}},
		},
		bad: []string{"kpl", "enabled"},
	},
	"simple_aggregation": {
		good: []good{
			{"on", nil, func(c *Config) { c.Aggregation = AggregationSimple }},
			{"on", MapGetter{"aggregation": "off"}, func(c *Config) { c.Aggregation = AggregationSimple }},
			{"off", nil, func(c *Config) {}},
		},
		bad: []string{"maybe"},
	},
	"aggregation_max_size": {
		good: []good{
			{"1MiB", nil, func(c *Config) { c.AggregationMaxSize = 1 << 20 }},
			{"25600", nil, func(c *Config) { c.AggregationMaxSize = 25600 }},
		},
		bad: []string{"2MiB", "100", "1.5MiB", "big"},
	},
	"max_record_size": {
		good: []good{
			{"10MiB", MapGetter{"request_max_size": "10M"}, func(c *Config) { c.MaxRecordSize, c.RequestMaxSize = 10<<20, 10<<20 }},
			{"AUTO", nil, func(c *Config) { c.MaxRecordSize, c.MaxRecordSizeAuto = 0, true }},
			{"512KiB", MapGetter{"aggregation_max_size": "64k"}, func(c *Config) { c.MaxRecordSize, c.AggregationMaxSize = 512<<10, 64<<10 }},
			{"6MiB", nil, func(c *Config) { c.MaxRecordSize, c.RequestMaxSize = 6<<20, 6<<20 }},
			{"32KiB", nil, func(c *Config) { c.MaxRecordSize, c.AggregationMaxSize = 32<<10, 32<<10 }},
		},
		bad: []string{"11MiB", "512", "automatic", "-1"},
	},
	"request_max_size": {
		good: []good{{"10MiB", nil, func(c *Config) { c.RequestMaxSize = 10 << 20 }}},
		bad:  []string{"11MiB", "512KiB", "ten"},
	},
	"wire_format": {
		good: []good{
			{"cbor", nil, func(c *Config) {}},
			{"CBOR", MapGetter{"endpoint": "https://127.0.0.1:4567"}, func(c *Config) { c.Endpoint = "https://127.0.0.1:4567" }},
			{"json", nil, func(c *Config) { c.WireFormat = WireJSON }},
			{"auto", nil, func(c *Config) {}},
			{"auto", MapGetter{"endpoint": "vpce-1.kinesis.eu-west-1.vpce.amazonaws.com"}, func(c *Config) {
				c.Endpoint = "https://vpce-1.kinesis.eu-west-1.vpce.amazonaws.com"
			}},
			{"auto", MapGetter{"endpoint": "https://kinesis.cn-north-1.amazonaws.com.cn"}, func(c *Config) {
				c.Endpoint = "https://kinesis.cn-north-1.amazonaws.com.cn"
			}},
			{"auto", MapGetter{"endpoint": "https://127.0.0.1:4567"}, func(c *Config) {
				c.Endpoint, c.WireFormat = "https://127.0.0.1:4567", WireJSON
			}},
			{"auto", MapGetter{"endpoint": "https://amazonaws.com.evil.example"}, func(c *Config) {
				c.Endpoint, c.WireFormat = "https://amazonaws.com.evil.example", WireJSON
			}},
		},
		bad: []string{"xml", "cbor1.1", "protobuf"},
	},
	"oversize": {
		good: []good{{"truncate", nil, func(c *Config) { c.Oversize = OversizeTruncate }}},
		bad:  []string{"split", "cut"},
	},
	"rate_limit": {
		good: []good{
			{"off", nil, func(c *Config) { c.RateLimit = 0 }},
			{"100%", nil, func(c *Config) { c.RateLimit = 100 }},
			{"80", nil, func(c *Config) { c.RateLimit = 80 }},
		},
		bad: []string{"0", "1001", "fast", "50.5"},
	},
	"shard_refresh_interval": {
		good: []good{
			{"0", nil, func(c *Config) { c.ShardRefreshInterval = 0 }},
			{"5m", nil, func(c *Config) { c.ShardRefreshInterval = 5 * time.Minute }},
		},
		bad: []string{"25h", "-1s", "soon"},
	},
	"max_connections": {
		good: []good{{"64", nil, func(c *Config) { c.MaxConnections = 64 }}},
		bad:  []string{"0", "1025", "many"},
	},
	"endpoint": {
		good: []good{
			{"https://kinesis.eu-west-1.amazonaws.com", nil, func(c *Config) { c.Endpoint = "https://kinesis.eu-west-1.amazonaws.com" }},
			{"vpce-1.kinesis.eu-west-1.vpce.amazonaws.com", nil, func(c *Config) { c.Endpoint = "https://vpce-1.kinesis.eu-west-1.vpce.amazonaws.com" }},
			{"http://127.0.0.1:4567", MapGetter{"allow_http": "on"}, func(c *Config) {
				c.Endpoint, c.Insecure, c.WireFormat = "http://127.0.0.1:4567", true, WireJSON // not AWS's: JSON
			}},
		},
		bad: []string{"http://127.0.0.1:4567", "ftp://h:1", "https://", "https://h/path", "https://h:99999", "https://u@h"},
	},
	"port": {
		good: []good{{"8443", MapGetter{"endpoint": "https://h:443"}, func(c *Config) { c.Endpoint, c.WireFormat = "https://h:8443", WireJSON }}},
		bad:  []string{"0", "65536", "https"},
		with: MapGetter{"endpoint": "https://h"},
	},
	"allow_http": {
		good: []good{{"on", nil, func(c *Config) {}}},
		bad:  []string{"http"},
	},
	"profile": {
		good: []good{{"prod", nil, func(c *Config) { c.Profile = "prod" }}},
		bad:  []string{"my profile", "[prod]"},
	},
	"role_arn": {
		good: []good{{"arn:aws:iam::123456789012:role/writer", nil, func(c *Config) { c.RoleARN = "arn:aws:iam::123456789012:role/writer" }}},
		bad: []string{"writer", "arn:aws:iam::12345:role/writer", "arn:aws:iam::123456789012:user/me",
			"arn:aws:s3::123456789012:role/x", "arn:aws:iam::123456789012:role/"},
	},
	"external_id": {
		good: []good{{"tenant-42", MapGetter{"role_arn": "arn:aws-cn:iam::123456789012:role/r"}, func(c *Config) {
			c.RoleARN, c.ExternalID = "arn:aws-cn:iam::123456789012:role/r", "tenant-42"
		}}},
		bad:  []string{"x", "has space", strings.Repeat("a", 1225)},
		with: MapGetter{"role_arn": "arn:aws:iam::123456789012:role/r"},
	},
	"sts_endpoint": {
		good: []good{{"sts.eu-west-1.amazonaws.com", MapGetter{"role_arn": "arn:aws:iam::123456789012:role/r"}, func(c *Config) {
			c.RoleARN, c.STSEndpoint = "arn:aws:iam::123456789012:role/r", "https://sts.eu-west-1.amazonaws.com"
		}}},
		bad:  []string{"http://127.0.0.1:1", "sts://x", "https://h?x=1"},
		with: MapGetter{"role_arn": "arn:aws:iam::123456789012:role/r"},
	},
	"http_request_timeout": {
		good: []good{{"1m", nil, func(c *Config) { c.HTTPRequestTimeout = time.Minute }}},
		bad:  []string{"1ms", "11m", "30sa"},
	},
	"auto_retry_requests": {
		good: []good{{"false", nil, func(c *Config) { c.AutoRetryRequests = false }}},
		bad:  []string{"once"},
	},
	"flush_timeout": {
		good: []good{{"2.5", nil, func(c *Config) { c.FlushTimeout = 2500 * time.Millisecond }}},
		bad:  []string{"30sa", "1ms", "soon"},
	},
	"record_ttl": {
		good: []good{{"1m", nil, func(c *Config) { c.RecordTTL = time.Minute }}},
		bad:  []string{"-5s", "25h"},
	},
	"retry_ledger": {
		good: []good{{"Off", nil, func(c *Config) { c.RetryLedger = false }}},
		bad:  []string{"onn"},
	},
	"exit_timeout": {
		good: []good{{"250ms", nil, func(c *Config) { c.ExitTimeout = 250 * time.Millisecond }}},
		bad:  []string{"11m", "later"},
	},
	"plugin_log_level": {
		good: []good{
			{"debug", nil, func(c *Config) { c.LogLevel = slog.LevelDebug }},
			{"TRACE", nil, func(c *Config) { c.LogLevel = slog.LevelDebug }},
			{"warn", nil, func(c *Config) { c.LogLevel = slog.LevelWarn }},
			{"error", nil, func(c *Config) { c.LogLevel = slog.LevelError }},
			{"off", nil, func(c *Config) { c.LogLevel = LevelOff }},
		},
		bad: []string{"verbose", "5"},
	},
	"metrics_listen": {
		good: []good{
			{"2021", nil, func(c *Config) { c.MetricsListen = "127.0.0.1:2021" }},
			{":2021", nil, func(c *Config) { c.MetricsListen = "127.0.0.1:2021" }},
			{"0.0.0.0:9100", nil, func(c *Config) { c.MetricsListen = "0.0.0.0:9100" }},
			{"localhost:9100", nil, func(c *Config) { c.MetricsListen = "localhost:9100" }},
			{"[::1]:9100", nil, func(c *Config) { c.MetricsListen = "[::1]:9100" }},
		},
		bad: []string{"0", "70000", ":0", "host", "host:", "127.0.0.1:http", "a b:80", "http://x:80", "::1:80"},
	},
	"stats_interval": {
		good: []good{
			{"0", nil, func(c *Config) { c.StatsInterval = 0 }},
			{"10s", nil, func(c *Config) { c.StatsInterval = 10 * time.Second }},
			{"5m", nil, func(c *Config) { c.StatsInterval = 5 * time.Minute }},
		},
		bad: []string{"500ms", "-1s", "25h", "often"},
	},
	"experimental_concurrency": {
		good: []good{{"4", nil, func(c *Config) {}}},
		bad:  []string{"11", "-1", "four"},
	},
	"experimental_concurrency_retries": {
		good: []good{{"10", nil, func(c *Config) {}}},
		bad:  []string{"-1", "x"},
	},
}

func TestEveryOptionHasCases(t *testing.T) {
	seen := map[string]bool{}
	for _, o := range Options {
		if seen[o.Name] {
			t.Errorf("option %q is listed twice", o.Name)
		}
		seen[o.Name] = true
		if _, ok := optionCases[o.Name]; !ok {
			t.Errorf("option %q has no cases in optionCases", o.Name)
		}
		if o.Help == "" || o.set == nil {
			t.Errorf("option %q lacks help or a parser", o.Name)
		}
	}
	for name := range optionCases {
		if !seen[name] {
			t.Errorf("optionCases has %q, which is not an option", name)
		}
	}
}

func TestOptionValues(t *testing.T) {
	for name, oc := range optionCases {
		for _, g := range oc.good {
			t.Run(name+"="+g.value, func(t *testing.T) {
				opts := MapGetter{"stream": "s", name: g.value}
				for k, v := range g.with {
					opts[k] = v
				}
				c, err := Load(opts)
				if err != nil {
					t.Fatal(err)
				}
				want := defaults()
				want.Stream = c.Stream // the stream case sets its own
				g.want(&want)
				if !reflect.DeepEqual(c, want) {
					t.Fatalf("got  %+v\nwant %+v", c, want)
				}
			})
		}
		for _, v := range oc.bad {
			t.Run(name+"!="+v, func(t *testing.T) {
				opts := MapGetter{"stream": "s", name: v}
				for k, w := range oc.with {
					opts[k] = w
				}
				_, err := Load(opts)
				if !errors.Is(err, ErrInvalid) {
					t.Fatalf("err = %v, want ErrInvalid", err)
				}
				if !strings.Contains(err.Error(), name+": ") {
					t.Errorf("error %q does not name %s", err, name)
				}
			})
		}
	}
}

// Problems between options, and every problem listed in one error.
func TestLoadRejectsCombinations(t *testing.T) {
	cases := []struct {
		name string
		opts MapGetter
		want []string
	}{
		{"missing stream", MapGetter{}, []string{"stream: is required"}},
		{"external_id without role_arn", MapGetter{"stream": "s", "external_id": "tenant"}, []string{"external_id: is set without role_arn"}},
		{"sts_endpoint without role_arn", MapGetter{"stream": "s", "sts_endpoint": "sts.amazonaws.com"}, []string{"sts_endpoint: is set without role_arn"}},
		{"http endpoint", MapGetter{"stream": "s", "endpoint": "http://127.0.0.1:1"}, []string{"endpoint:", "allow_http on"}},
		{"http sts endpoint", MapGetter{"stream": "s", "role_arn": "arn:aws:iam::123456789012:role/r", "sts_endpoint": "http://127.0.0.1:2"},
			[]string{"sts_endpoint:", "allow_http on"}},
		{"port without endpoint", MapGetter{"stream": "s", "port": "443"}, []string{"port: is set without endpoint"}},
		{"log_key with data_keys", MapGetter{"stream": "s", "log_key": "log", "data_keys": "log"}, []string{"log_key: cannot be used with data_keys"}},
		{"time_key_format alone", MapGetter{"stream": "s", "time_key_format": "%s"}, []string{"time_key_format: is set without time_key"}},
		{"level without compression", MapGetter{"stream": "s", "compression_level": "3"}, []string{"compression_level: is set without compression"}},
		{"snappy level", MapGetter{"stream": "s", "compression": "snappy", "compression_level": "3"}, []string{"compression_level: snappy takes no level"}},
		{"both aggregations on", MapGetter{"stream": "s", "aggregation": "on", "simple_aggregation": "on"}, []string{"simple_aggregation: cannot be on with aggregation on"}},
		{"aggregate over record", MapGetter{"stream": "s", "max_record_size": "64KiB", "aggregation_max_size": "100KiB"}, []string{"aggregation_max_size: 102400 bytes is more than max_record_size (65536)"}},
		{"request under record", MapGetter{"stream": "s", "max_record_size": "8MiB", "request_max_size": "5MiB"}, []string{"request_max_size: 5242880 bytes is less than max_record_size"}},
		{"every problem listed", MapGetter{"region": "x y", "flush_timeout": "soon", "compression": "lz4", "external_id": "e", "endpoint": "http://h"},
			[]string{"stream: is required", "region:", "flush_timeout:", "compression:", "external_id:", "endpoint:"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Load(tc.opts)
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("err = %v, want ErrInvalid", err)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not mention %q", err, w)
				}
			}
		})
	}
}

func TestParseFieldPath(t *testing.T) {
	cases := map[string][]string{
		"pk":                           {"pk"},
		"kubernetes.pod_name":          {"kubernetes", "pod_name"},
		"kubernetes->labels->app.name": {"kubernetes", "labels", "app.name"},
		"$pk":                          {"pk"},
		"$kubernetes['pod_name']":      {"kubernetes", "pod_name"},
		`$k["labels"]['app.k8s/name']`: {"k", "labels", "app.k8s/name"},
		" pod ":                        {"pod"},
		"log.file->path":               {"log.file", "path"},
		"a->b->c":                      {"a", "b", "c"},
	}
	for in, want := range cases {
		got, err := ParseFieldPath(in)
		if err != nil || !reflect.DeepEqual(got, want) {
			t.Errorf("ParseFieldPath(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, in := range []string{"", " ", "$", "$['a']", "$a[b]", "$a['']", "$a['b']x", ".a", "a.", "a..b", "a->", "->a", "a->->b", "\xff"} {
		if _, err := ParseFieldPath(in); err == nil {
			t.Errorf("ParseFieldPath(%q) succeeded, want an error", in)
		}
	}
}

func TestParseTemplate(t *testing.T) {
	lit := func(s string) TemplatePart { return TemplatePart{Kind: PartLiteral, Literal: s, TagIndex: -1} }
	tag := func(i int) TemplatePart { return TemplatePart{Kind: PartTag, TagIndex: i} }
	field := func(p ...string) TemplatePart { return TemplatePart{Kind: PartField, Field: p, TagIndex: -1} }
	cases := map[string]Template{
		"logs":                    {lit("logs")},
		"$TAG":                    {tag(-1)},
		"logs-$TAG[1].x":          {lit("logs-"), tag(1), lit(".x")},
		"$TAGS":                   {field("TAGS")},
		"$k['ns']-$TAG[0]":        {field("k", "ns"), lit("-"), tag(0)},
		`a$b["it's"]$c`:           {lit("a"), field("b", "it's"), field("c")},
		"$kubernetes['pod_name']": {field("kubernetes", "pod_name")},
		"$TAG-$pk":                {tag(-1), lit("-"), field("pk")},
		"logs-${k->ns}x":          {lit("logs-"), field("k", "ns"), lit("x")},
		"${a.b}":                  {field("a", "b")},
		"${$k['a.b']}":            {field("k", "a.b")},
		"${ TAG }":                {field("TAG")},
		"${log.file->path}":       {field("log.file", "path")},
		"cost$$-$$TAG":            {lit("cost$-$TAG")},
		"$TAG[0]$TAG[2]":          {tag(0), tag(2)},
	}
	for in, want := range cases {
		got, err := ParseTemplate(in)
		if err != nil || !reflect.DeepEqual(got, want) {
			t.Errorf("ParseTemplate(%q) = %+v, %v; want %+v", in, got, err, want)
			continue
		}
		if again, err := ParseTemplate(got.String()); err != nil || !reflect.DeepEqual(again, got) {
			t.Errorf("ParseTemplate(%q).String() = %q does not parse back", in, got.String())
		}
	}
	for _, in := range []string{"$", "a$", "$-", "$TAG[", "$TAG[]", "$TAG[100]", "$TAG[-1]", "$TAG[+1]", "$a['b", "$a[b]", "\xff",
		"${", "${a", "${}", "${ }", "${a->}", "${$a['b}", "$(tag)", "${a}${"} {
		if _, err := ParseTemplate(in); err == nil {
			t.Errorf("ParseTemplate(%q) succeeded, want an error", in)
		}
	}
}

func TestParseSize(t *testing.T) {
	for in, want := range map[string]int{"0": 0, "65536": 65536, "1k": 1024, "64KiB": 64 << 10, "1 MB": 1 << 20, "10MiB": 10 << 20, "7b": 7} {
		if got, err := ParseSize(in); err != nil || got != want {
			t.Errorf("ParseSize(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, in := range []string{"", "MiB", "1.5M", "-1", "1GiB", "99999999999999999999", "1 2"} {
		if _, err := ParseSize(in); err == nil {
			t.Errorf("ParseSize(%q) succeeded", in)
		}
	}
}

func TestParseBoolStrict(t *testing.T) {
	for in, want := range map[string]bool{"on": true, "TRUE": true, "yes": true, "1": true, "off": false, "False": false, "no": false, "0": false} {
		got, err := ParseBool(in)
		if err != nil || got != want {
			t.Errorf("ParseBool(%q) = %v, %v", in, got, err)
		}
	}
	for _, in := range []string{"", "y", "enable", "2"} {
		if _, err := ParseBool(in); err == nil {
			t.Errorf("ParseBool(%q) succeeded", in)
		}
	}
}
