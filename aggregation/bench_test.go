package aggregation

import (
	"crypto/md5"
	"fmt"
	"math/rand/v2"
	"slices"
	"syscall"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/kinesis-kpl/fluent-bit-kinesis-kpl/aggregation/pb"
)

// benchAggregateBytes is the data an aggregate carries in the benchmarks:
// just under the 1 MiB Kinesis record limit, where real aggregates end up.
const benchAggregateBytes = 1000 * 1000

var benchSizes = []struct {
	name string
	size int
}{{"100B", 100}, {"500B", 500}, {"5KiB", 5 * 1024}}

// benchRecords returns enough log-like records of the given data size to
// fill one aggregate, spread over 16 partition keys the way a producer
// with per-record keys sees them (consecutive records rarely share a key).
func benchRecords(size int) []userRecord {
	keys := make([]string, 16)
	for i := range keys {
		keys[i] = fmt.Sprintf("%08x-4a6f-4c3e-9d1b-%012x", i*2654435761, i)
	}
	n := benchAggregateBytes / (size + 40)
	recs := make([]userRecord, n)
	for i := range recs {
		data := make([]byte, size)
		line := fmt.Appendf(nil, `{"log":"GET /api/v1/items/%d HTTP/1.1 200","stream":"stdout","n":%d,"pad":"`, i, i)
		for j := range data {
			if j < len(line) {
				data[j] = line[j]
			} else {
				data[j] = 'a' + byte((i+j)%26)
			}
		}
		recs[i] = userRecord{pk: keys[(i*7)%len(keys)], data: data}
	}
	return recs
}

func encodeInto(enc *Encoder, dst []byte, recs []userRecord) []byte {
	return encodeWith(enc, dst, recs, (*Encoder).Add)
}

// encodeWith is encodeInto with add (Add or AddShared) for each record.
func encodeWith(enc *Encoder, dst []byte, recs []userRecord, add func(*Encoder, string, string, []byte)) []byte {
	enc.Reset()
	for _, r := range recs {
		if enc.SizeWith(r.pk, r.ehk, len(r.data)) > 1<<20 {
			panic("benchmark aggregate over the limit")
		}
		add(enc, r.pk, r.ehk, r.data)
	}
	return enc.AppendTo(dst[:0])
}

// BenchmarkEncode measures the steady state of aggregation: Reset, SizeWith
// and Add (or AddShared) for every record, AppendTo into a reused buffer.
func BenchmarkEncode(b *testing.B) {
	for _, s := range benchSizes {
		for _, add := range []struct {
			name string
			add  func(*Encoder, string, string, []byte)
		}{{"copy", (*Encoder).Add}, {"shared", (*Encoder).AddShared}} {
			b.Run(s.name+"/"+add.name, func(b *testing.B) {
				recs := benchRecords(s.size)
				var enc Encoder
				out := encodeWith(&enc, nil, recs, add.add) // grow buffers once
				b.SetBytes(int64(len(out)))
				b.ReportAllocs()
				b.ResetTimer()
				for range b.N {
					out = encodeWith(&enc, out, recs, add.add)
				}
				b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(recs)), "ns/record")
			})
		}
	}
}

// BenchmarkEncodeVsMD5 reports x-md5, the cost of encoding an aggregate
// (as in BenchmarkEncode) over the cost of MD5 of its protobuf bytes alone.
// The two are timed alternately in the same loop and compared by their
// medians, so that load from other processes hits both alike.
func BenchmarkEncodeVsMD5(b *testing.B) {
	for _, s := range benchSizes {
		b.Run(s.name, func(b *testing.B) {
			recs := benchRecords(s.size)
			var enc Encoder
			out := encodeInto(&enc, nil, recs)
			body := slices.Clone(out[magicLen : len(out)-checksumLen])
			encodeTimes := make([]time.Duration, b.N)
			md5Times := make([]time.Duration, b.N)
			b.ResetTimer()
			for i := range b.N {
				t0 := time.Now()
				out = encodeInto(&enc, out, recs)
				t1 := time.Now()
				sumSink = md5.Sum(body)
				md5Times[i], encodeTimes[i] = time.Since(t1), t1.Sub(t0)
			}
			b.StopTimer()
			slices.Sort(encodeTimes)
			slices.Sort(md5Times)
			b.ReportMetric(float64(encodeTimes[b.N/2])/float64(md5Times[b.N/2]), "x-md5")
			b.ReportMetric(float64(encodeTimes[0])/float64(md5Times[0]), "x-md5-min")
		})
	}
}

var sumSink [16]byte

// BenchmarkEncodeProtoMarshal is the baseline: the straightforward encoder
// that builds the generated message (key tables through a map) and calls
// proto.Marshal, then MD5.
func BenchmarkEncodeProtoMarshal(b *testing.B) {
	for _, s := range benchSizes {
		b.Run(s.name, func(b *testing.B) {
			recs := benchRecords(s.size)
			var out []byte
			b.ReportAllocs()
			for i := range b.N {
				msg := &pb.AggregatedRecord{}
				pkIndex := map[string]uint64{}
				for _, r := range recs {
					idx, ok := pkIndex[r.pk]
					if !ok {
						idx = uint64(len(msg.PartitionKeyTable))
						pkIndex[r.pk] = idx
						msg.PartitionKeyTable = append(msg.PartitionKeyTable, r.pk)
					}
					msg.Records = append(msg.Records, &pb.Record{PartitionKeyIndex: proto.Uint64(idx), Data: r.data})
				}
				body, err := proto.Marshal(msg)
				if err != nil {
					b.Fatal(err)
				}
				sum := md5.Sum(body)
				out = append(append(append(out[:0], Magic[:]...), body...), sum[:]...)
				if i == 0 {
					b.SetBytes(int64(len(out)))
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(recs)), "ns/record")
		})
	}
}

// BenchmarkMD5 is the floor: MD5 of the protobuf of the same aggregate,
// which any encoder of this format must compute.
func BenchmarkMD5(b *testing.B) {
	for _, s := range benchSizes {
		b.Run(s.name, func(b *testing.B) {
			var enc Encoder
			out := encodeInto(&enc, nil, benchRecords(s.size))
			body := out[magicLen : len(out)-checksumLen]
			b.SetBytes(int64(len(out)))
			b.ReportAllocs()
			b.ResetTimer()
			for range b.N {
				sumSink = md5.Sum(body)
			}
		})
	}
}

// BenchmarkSumAll measures SumAll on a request's worth of aggregates
// against crypto/md5 over the same aggregates one by one (what AppendTo
// does). The two are timed alternately in the same loop; ns/op and MB/s
// are SumAll's alone, md5-ns/op the loop's, x-md5 SumAll's time over the
// loop's by their medians (below 1 is faster), and x-md5-cpu the same for
// the process's CPU time. "lanes" forces the SIMD
// server whatever the batch, to place SumAll's thresholds.
func BenchmarkSumAll(b *testing.B) {
	shapes := []struct {
		count, size int
	}{{1, 50_000}, {2, 5_000}, {2, 50_000}, {4, 5_000}, {10, 1_000}, {10, 5_000}, {64, 8_000}, {16, 50_000}, {100, 50_000}, {20, 500_000}}
	for _, sh := range shapes {
		for _, s := range sumFuncs {
			b.Run(fmt.Sprintf("%dx%dB/%s", sh.count, sh.size, s.name), func(b *testing.B) {
				l := openTestLanes(b)
				if s.name == "lanes" && takeNoLaneSet() {
					b.Skip("no SIMD server on this machine")
				}
				sizes := make([]int, sh.count)
				for i := range sizes {
					sizes[i] = sh.size
				}
				aggs, _ := unsummedBatch(rand.New(rand.NewPCG(1, 1)), sizes)
				b.ReportAllocs()
				sumTimes := make([]time.Duration, b.N)
				md5Times := make([]time.Duration, b.N)
				var sumCPU, md5CPU time.Duration
				b.ResetTimer()
				for i := range b.N {
					c0, t0 := cpuTime(), time.Now()
					s.fn(l, aggs)
					c1, t1 := cpuTime(), time.Now()
					sumSerial(aggs)
					sumTimes[i], md5Times[i] = t1.Sub(t0), time.Since(t1)
					sumCPU, md5CPU = sumCPU+c1-c0, md5CPU+cpuTime()-c1
				}
				b.StopTimer()
				// With GOMAXPROCS > 1 the server hashes on another
				// thread: the process's CPU time, not the wall time, is
				// the cost.
				b.ReportMetric(float64(sumCPU)/float64(md5CPU), "x-md5-cpu")
				md5Total := time.Duration(0)
				for _, d := range md5Times {
					md5Total += d
				}
				// ns/op and MB/s count SumAll alone.
				sumNs := float64(b.Elapsed()-md5Total) / float64(b.N)
				b.ReportMetric(sumNs, "ns/op")
				b.ReportMetric(float64(sh.count*sh.size)/sumNs*1e3, "MB/s")
				b.ReportMetric(float64(md5Total)/float64(b.N), "md5-ns/op")
				slices.Sort(sumTimes)
				slices.Sort(md5Times)
				b.ReportMetric(float64(sumTimes[b.N/2])/float64(md5Times[b.N/2]), "x-md5")
			})
		}
	}
}

// takeNoLaneSet reports whether there is no SIMD server (none open, or
// none on this machine).
func takeNoLaneSet() bool {
	set := takeLaneSet()
	if set != nil {
		giveLaneSet(set)
	}
	return set == nil
}

// cpuTime is the process's user plus system CPU time.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
