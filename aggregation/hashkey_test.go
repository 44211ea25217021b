package aggregation

import (
	"crypto/md5"
	"errors"
	"math/big"
	"math/rand/v2"
	"strings"
	"testing"
)

func TestParseHashKey(t *testing.T) {
	max := "340282366920938463463374607431768211455"
	tests := []struct {
		in   string
		want HashKey
		ok   bool
	}{
		{"0", HashKey{}, true},
		{"1", HashKey{Lo: 1}, true},
		{"18446744073709551615", HashKey{Lo: ^uint64(0)}, true},
		{"18446744073709551616", HashKey{Hi: 1}, true},
		{"170141183460469231731687303715884105728", HashKey{Hi: 1 << 63}, true},
		{max, MaxHashKey, true},
		{"340282366920938463463374607431768211456", HashKey{}, false}, // 2^128
		{"999999999999999999999999999999999999999", HashKey{}, false},
		{"1000000000000000000000000000000000000000", HashKey{}, false}, // 40 digits
		{"", HashKey{}, false},
		{"00", HashKey{}, false},
		{"01", HashKey{}, false},
		{"-1", HashKey{}, false},
		{"+1", HashKey{}, false},
		{" 1", HashKey{}, false},
		{"1 ", HashKey{}, false},
		{"1a", HashKey{}, false},
		{"１", HashKey{}, false}, // full-width digit
	}
	for _, tt := range tests {
		got, err := ParseHashKey(tt.in)
		if tt.ok {
			if err != nil || got != tt.want {
				t.Errorf("ParseHashKey(%q) = %v, %v; want %v", tt.in, got, err, tt.want)
			}
			continue
		}
		if !errors.Is(err, ErrInvalidHashKey) {
			t.Errorf("ParseHashKey(%q) error = %v; want ErrInvalidHashKey", tt.in, err)
		}
	}
}

func TestHashKeyDecimalMatchesBigInt(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	keys := []HashKey{{}, {Lo: 1}, MaxHashKey, {Hi: 1}, {Hi: 1, Lo: 0}, {Hi: 0, Lo: ^uint64(0)},
		{Hi: 0x8ac7230489e80000 >> 1}, {Hi: 5, Lo: 0x8ac7230489e80000}}
	for range 2000 {
		k := HashKey{Hi: r.Uint64() >> r.UintN(64), Lo: r.Uint64() >> r.UintN(64)}
		keys = append(keys, k)
	}
	for _, k := range keys {
		want := k.BigInt().String()
		if got := k.String(); got != want {
			t.Fatalf("%#v.String() = %s; want %s", k, got, want)
		}
		back, err := ParseHashKey(want)
		if err != nil || back != k {
			t.Fatalf("ParseHashKey(%s) = %#v, %v; want %#v", want, back, err, k)
		}
		fromBig, err := HashKeyFromBigInt(k.BigInt())
		if err != nil || fromBig != k {
			t.Fatalf("HashKeyFromBigInt round trip of %s = %#v, %v", want, fromBig, err)
		}
	}
}

func TestHashKeyFromBigIntRejects(t *testing.T) {
	two128 := new(big.Int).Lsh(big.NewInt(1), 128)
	for _, b := range []*big.Int{nil, big.NewInt(-1), two128} {
		if _, err := HashKeyFromBigInt(b); !errors.Is(err, ErrInvalidHashKey) {
			t.Errorf("HashKeyFromBigInt(%v) error = %v; want ErrInvalidHashKey", b, err)
		}
	}
}

func TestPartitionKeyHash(t *testing.T) {
	for _, pk := range []string{"", "a", "partition-key", "ключ", strings.Repeat("x", 256)} {
		sum := md5.Sum([]byte(pk))
		want := new(big.Int).SetBytes(sum[:])
		if got := PartitionKeyHash(pk).BigInt(); got.Cmp(want) != 0 {
			t.Errorf("PartitionKeyHash(%q) = %s; want %s", pk, got, want)
		}
	}
	// A well-known value: MD5("a") = 0cc175b9c0f1b6a831c399e269772661.
	if got, want := PartitionKeyHash("a").String(), "16955237001963240173058271559858726497"; got != want {
		t.Errorf("PartitionKeyHash(\"a\") = %s; want %s", got, want)
	}
}

func TestHashKeyArithmetic(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	mod := new(big.Int).Lsh(big.NewInt(1), 128)
	for range 1000 {
		a := HashKey{Hi: r.Uint64(), Lo: r.Uint64()}
		b := HashKey{Hi: r.Uint64() >> r.UintN(64), Lo: r.Uint64()}
		ab, bb := a.BigInt(), b.BigInt()
		if got, want := a.Cmp(b), ab.Cmp(bb); got != want {
			t.Fatalf("Cmp(%s, %s) = %d; want %d", a, b, got, want)
		}
		sum := new(big.Int).Mod(new(big.Int).Add(ab, bb), mod)
		if got := a.Add(b).BigInt(); got.Cmp(sum) != 0 {
			t.Fatalf("Add(%s, %s) = %s; want %s", a, b, got, sum)
		}
		diff := new(big.Int).Mod(new(big.Int).Sub(ab, bb), mod)
		if got := a.Sub(b).BigInt(); got.Cmp(diff) != 0 {
			t.Fatalf("Sub(%s, %s) = %s; want %s", a, b, got, diff)
		}
		if got, want := a.Div2().BigInt(), new(big.Int).Rsh(ab, 1); got.Cmp(want) != 0 {
			t.Fatalf("Div2(%s) = %s; want %s", a, got, want)
		}
		lo, hi := a, b
		if lo.Cmp(hi) > 0 {
			lo, hi = hi, lo
		}
		mid := Midpoint(lo, hi)
		want := new(big.Int).Rsh(new(big.Int).Add(lo.BigInt(), hi.BigInt()), 1)
		if mid.BigInt().Cmp(want) != 0 || !mid.InRange(lo, hi) {
			t.Fatalf("Midpoint(%s, %s) = %s; want %s", lo, hi, mid, want)
		}
	}
	if Midpoint(HashKey{}, MaxHashKey).String() != "170141183460469231731687303715884105727" {
		t.Errorf("Midpoint of the whole key space = %s", Midpoint(HashKey{}, MaxHashKey))
	}
}

func TestHashKeyZeroAllocs(t *testing.T) {
	buf := make([]byte, 0, 64)
	pk := strings.Repeat("k", 256)
	allocs := testing.AllocsPerRun(100, func() {
		h := PartitionKeyHash(pk)
		buf = h.AppendDecimal(buf[:0])
		if _, err := ParseHashKey("340282366920938463463374607431768211455"); err != nil {
			t.Fatal(err)
		}
	})
	if allocs != 0 {
		t.Errorf("PartitionKeyHash+AppendDecimal+ParseHashKey: %v allocs; want 0", allocs)
	}
}
