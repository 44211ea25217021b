package producer

import (
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
)

// RequestResult describes one PutRecords call for Config.Observe.
type RequestResult struct {
	// Took is the time of the call, the SDK's own retries included.
	Took time.Duration
	// Err is the error of a call that failed as a whole; nil when the
	// service answered.
	Err error
	// Mismatch is true when the answer did not have one result per entry:
	// every entry is sent again.
	Mismatch bool
	// Entries has one result per entry of the request, in order. It is
	// valid only during the call to Observe.
	Entries []EntryResult
}

// EntryResult is one entry of a PutRecords call.
type EntryResult struct {
	// UserRecords is how many user records the entry carries: 1 for a
	// plain record, more for an aggregate.
	UserRecords int
	// Bytes is the entry's data plus partition key, as Kinesis counts.
	Bytes int
	// ErrorCode is the code the answer gave the entry; "" when it was
	// stored, or when the call has no per-entry answer (Err, Mismatch).
	ErrorCode string
}

// observe tells Config.Observe about req. A panic in it is logged and
// goes no further: the records' outcomes do not depend on it.
func (p *Producer) observe(req *request, out *kinesis.PutRecordsOutput, err error, took time.Duration) {
	if p.cfg.Observe == nil {
		return
	}
	defer func() {
		if v := recover(); v != nil {
			p.logPanic(recovered("Config.Observe", v))
		}
	}()
	r := &req.result
	*r = RequestResult{Took: took, Err: err, Entries: r.Entries[:0]}
	answered := err == nil && out != nil
	r.Mismatch = answered && len(out.Records) != len(req.entries)
	for i, e := range req.entries {
		er := EntryResult{UserRecords: len(e.refs), Bytes: e.size}
		if answered && !r.Mismatch {
			er.ErrorCode = aws.ToString(out.Records[i].ErrorCode)
		}
		r.Entries = append(r.Entries, er)
	}
	p.cfg.Observe(r)
}
